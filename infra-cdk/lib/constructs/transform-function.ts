import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { LAKE_DATE_RANGE_ENV } from '../lake-window';
import { DEFAULTS, retentionDays } from '../config';

/** The repository root: the Cargo workspace the transform is built from. */
export const WORKSPACE_DIR = path.resolve(__dirname, '..', '..', '..');

/** The transform's binary in the workspace (`transform/`, package `eventlake-transform`). */
export const TRANSFORM_BINARY = 'eventlake-transform';

/** CloudWatch namespace of the transform's EMF metrics (its `EVENTLAKE_METRICS_NAMESPACE`). */
export const TRANSFORM_METRICS_NAMESPACE = 'eventlake';

/** Props of {@link TransformFunction}. */
export interface TransformFunctionProps {
  /** Name prefix of the function and its log group (`<prefix>-transform`). */
  readonly namePrefix: string;
  /** CPU architecture. @default `DEFAULTS.transformArchitecture` (config.ts) */
  readonly architecture?: lambda.Architecture;
  /** Memory (MB), which also sets the CPU share. @default `DEFAULTS.transformMemoryMb` (config.ts) */
  readonly memorySize?: number;
  /** Timeout. @default `DEFAULTS.transformTimeoutSeconds` (config.ts) */
  readonly timeout?: Duration;
  /**
   * The lake window the transform enforces (`EVENTLAKE_LAKE_DATE_RANGE`): must be the Glue
   * table's `projection.created_date.range`.
   * @default the transform's own default, the range of `glue-schema/table.json`
   */
  readonly lakeDateRange?: string;
  /** Log retention. @default `DEFAULTS.logRetentionDays` (config.ts) */
  readonly logRetention?: logs.RetentionDays;
  /** Keep the log group when the stack is deleted. @default `DEFAULTS.retainData` (config.ts) */
  readonly retainLogs?: boolean;
  /**
   * The code. The default builds `eventlake-transform` from this workspace with
   * `cargo lambda build --release` for the architecture (cargo-lambda on PATH, no Docker).
   * @default the Rust build of the workspace
   */
  readonly code?: lambda.Code;
}

/**
 * The Rust transform Lambda that Firehose invokes: `provided.al2023`, its own log group with a
 * retention, and a role that may write only to that log group.
 */
export class TransformFunction extends Construct {
  /** The function. */
  readonly function: lambda.Function;
  /** Its log group (JSON logs and the EMF metric lines). */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TransformFunctionProps) {
    super(scope, id);
    const functionName = `${props.namePrefix}-transform`;
    // Firehose waits at most 5 minutes for a transform invocation
    // (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html).
    const timeoutSeconds = (props.timeout ?? Duration.seconds(DEFAULTS.transformTimeoutSeconds)).toSeconds();
    if (timeoutSeconds > 300) {
      throw new Error(`TransformFunction: timeout must be at most 300 s (Firehose's limit for a transform), got ${timeoutSeconds} s`);
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: props.retainLogs ?? DEFAULTS.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Least privilege: no AWSLambdaBasicExecutionRole (it may create any log group); the
    // function writes to its own log group and nothing else.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${functionName}: writes its own logs only`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    const architecture = props.architecture ?? (DEFAULTS.transformArchitecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64);
    const common = {
      functionName,
      description: 'eventlake transform: validates and enriches events for Firehose (Rust)',
      architecture,
      memorySize: props.memorySize ?? DEFAULTS.transformMemoryMb,
      timeout: props.timeout ?? Duration.seconds(DEFAULTS.transformTimeoutSeconds),
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        EVENTLAKE_METRICS_NAMESPACE: TRANSFORM_METRICS_NAMESPACE,
        ...(props.lakeDateRange === undefined ? {} : { [LAKE_DATE_RANGE_ENV]: props.lakeDateRange }),
      },
    };
    this.function = props.code
      ? new lambda.Function(this, 'Function', {
          ...common,
          runtime: lambda.Runtime.PROVIDED_AL2023,
          handler: 'bootstrap',
          code: props.code,
        })
      : new RustFunction(this, 'Function', {
          ...common,
          runtime: 'provided.al2023',
          manifestPath: path.join(WORKSPACE_DIR, 'Cargo.toml'),
          binaryName: TRANSFORM_BINARY,
          bundling: { architecture, cargoLambdaFlags: ['--locked'] },
        });
  }
}
