import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { resourceLogicalId } from './logical-id';
import { prefixScopedBucket } from './prefix-scoped-bucket';
import { Construct } from 'constructs';
import { firehoseDataPrefix, type TableDefinition } from '../schema';
import { DEFAULTS, retentionDays } from '../config';

/**
 * Firehose's error prefix: `errors/<processing-failed|format-conversion-failed|…>/yyyy/MM/dd/HH/`
 * (the errors prefix of `glue-schema/table.json`), the layout `eventlake replay` writes and
 * `replay --errors` reads back.
 */
export function errorOutputPrefix(table: TableDefinition): string {
  return `${table.storage.errorsPrefix}!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/`;
}

/** Props of {@link EventDelivery}. */
export interface EventDeliveryProps {
  /** Name prefix: the stream is `<prefix>-events`, the delivery stream `<prefix>`. */
  readonly namePrefix: string;
  /** The table definition from `glue-schema/` (partition keys name the S3 prefix). */
  readonly tableDefinition: TableDefinition;
  /** The Glue table Firehose converts records against. */
  readonly table: glue.CfnTable;
  /** The transform Lambda. */
  readonly transform: lambda.IFunction;
  /** The lake bucket. */
  readonly lakeBucket: s3.IBucket;
  /** Kinesis capacity: on-demand, or this many provisioned shards. @default on-demand */
  readonly shards?: number;
  /** How long the stream keeps records. @default `DEFAULTS.streamRetentionHours` (config.ts) */
  readonly streamRetention?: Duration;
  /** Buffer before the transform is invoked (whole MiB, 1–3). @default `DEFAULTS.processorBufferMiB` (config.ts) */
  readonly processorBufferSize?: Size;
  /** Longest wait before the transform is invoked. @default `DEFAULTS.processorBufferSeconds` (config.ts) */
  readonly processorBufferInterval?: Duration;
  /** S3 buffer per partition (64–128 MiB). @default `DEFAULTS.s3BufferMiB` (config.ts) */
  readonly s3BufferSize?: Size;
  /** Longest a partition buffers before a file is written (60–900 s). @default `DEFAULTS.s3BufferSeconds` (config.ts) */
  readonly s3BufferInterval?: Duration;
  /** Split Kinesis records holding several newline-delimited events before the transform. @default `DEFAULTS.deaggregateRecords` (config.ts) */
  readonly deaggregateRecords?: boolean;
  /** Retention of Firehose's own error log group. @default `DEFAULTS.logRetentionDays` (config.ts) */
  readonly logRetention?: logs.RetentionDays;
  /** Keep the stream and the log group when the stack is deleted. @default `DEFAULTS.retainData` (config.ts) */
  readonly retainData?: boolean;
}

/**
 * The data path: an encrypted Kinesis Data Stream, and a Firehose delivery stream that reads it,
 * (optionally) splits multi-event records, invokes the transform, partitions by the keys the
 * transform returns, converts to Parquet (SNAPPY) against the Glue table and writes the lake
 * layout; failures go under `errors/`. Firehose gets its own role, scoped to exactly this.
 */
export class EventDelivery extends Construct {
  /** The Kinesis Data Stream producers write to. */
  readonly stream: kinesis.Stream;
  /** The Firehose delivery stream. */
  readonly deliveryStream: firehose.DeliveryStream;
  /** Firehose's CloudWatch log group (delivery and processing errors). */
  readonly logGroup: logs.LogGroup;
  /** The role Firehose assumes. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: EventDeliveryProps) {
    super(scope, id);
    const retain = props.retainData ?? DEFAULTS.retainData;
    const processorBufferSize = props.processorBufferSize ?? Size.mebibytes(DEFAULTS.processorBufferMiB);
    const processorBufferInterval = props.processorBufferInterval ?? Duration.seconds(DEFAULTS.processorBufferSeconds);
    const s3BufferSize = props.s3BufferSize ?? Size.mebibytes(DEFAULTS.s3BufferMiB);
    const s3BufferInterval = props.s3BufferInterval ?? Duration.seconds(DEFAULTS.s3BufferSeconds);
    // Firehose takes 0.2–3 MB (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html);
    // CDK's LambdaFunctionProcessor writes the size with `toMebibytes()`, which throws on a fraction.
    const processorMiB = processorBufferSize.toKibibytes() / 1024;
    if (!Number.isInteger(processorMiB) || processorMiB < 1 || processorMiB > 3) {
      throw new Error(`EventDelivery: processorBufferSize must be 1, 2 or 3 MiB (whole MiB within Firehose's 0.2–3 MB), got ${processorMiB} MiB`);
    }
    if (processorBufferInterval.toSeconds() > 900) {
      throw new Error('EventDelivery: processorBufferInterval must be at most 900 s');
    }
    const s3MiB = s3BufferSize.toMebibytes();
    if (s3MiB < 64 || s3MiB > 128) {
      throw new Error(`EventDelivery: s3BufferSize must be 64–128 MiB (dynamic partitioning and Parquet conversion need ≥ 64), got ${s3MiB}`);
    }
    const s3Seconds = s3BufferInterval.toSeconds();
    if (s3Seconds < 60 || s3Seconds > 900) {
      throw new Error(`EventDelivery: s3BufferInterval must be 60–900 s (dynamic partitioning needs ≥ 60), got ${s3Seconds}`);
    }
    if (props.shards !== undefined && (!Number.isInteger(props.shards) || props.shards < 1)) {
      throw new Error(`EventDelivery: shards must be a positive integer, got ${props.shards}`);
    }

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: `${props.namePrefix}-events`,
      // KMS with the AWS-managed key (alias/aws/kinesis): encrypted at rest, no key to manage,
      // and producers need no kms:GenerateDataKey grant of a customer key.
      encryption: kinesis.StreamEncryption.MANAGED,
      streamMode: props.shards === undefined ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
      shardCount: props.shards,
      retentionPeriod: props.streamRetention ?? Duration.hours(DEFAULTS.streamRetentionHours),
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/kinesisfirehose/${props.namePrefix}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com'),
      description: `Firehose ${props.namePrefix}: reads the stream, invokes the transform, writes the lake`,
    });

    const processors: firehose.IDataProcessor[] = [];
    if (props.deaggregateRecords ?? DEFAULTS.deaggregateRecords) {
      // Applied before the Lambda (AWS: deaggregation → transformation → partitioning keys);
      // at most 500 events per record.
      processors.push(firehose.RecordDeAggregationProcessor.json());
    }
    processors.push(
      new firehose.LambdaFunctionProcessor(props.transform, {
        bufferSize: processorBufferSize,
        bufferInterval: processorBufferInterval,
        retries: 3,
      }),
    );

    // The L2 destination grants read/write on the whole bucket; Firehose needs only its
    // documented S3 actions, on the lake's events/ and errors/ prefixes.
    const { eventsPrefix, errorsPrefix } = props.tableDefinition.storage;
    const lake = prefixScopedBucket(props.lakeBucket, [eventsPrefix, errorsPrefix]);

    this.deliveryStream = new firehose.DeliveryStream(this, 'Firehose', {
      deliveryStreamName: props.namePrefix,
      source: new firehose.KinesisStreamSource(this.stream),
      role: this.role,
      destination: new firehose.S3Bucket(lake, {
        role: this.role,
        processors,
        dynamicPartitioning: { enabled: true, retryDuration: Duration.seconds(300) },
        dataFormatConversion: {
          schemaConfiguration: firehose.SchemaConfiguration.fromCfnTable(props.table),
          inputFormat: new firehose.OpenXJsonInputFormat(),
          outputFormat: new firehose.ParquetOutputFormat({ compression: firehose.ParquetCompression.SNAPPY }),
        },
        dataOutputPrefix: firehoseDataPrefix(props.tableDefinition),
        errorOutputPrefix: errorOutputPrefix(props.tableDefinition),
        fileExtension: '.parquet',
        bufferingSize: s3BufferSize,
        bufferingInterval: s3BufferInterval,
        loggingConfig: new firehose.EnableLogging(this.logGroup),
      }),
    });

    // AWS's documented Firehose role for data transformation grants lambda:InvokeFunction (added
    // by the L2) and lambda:GetFunctionConfiguration on the function
    // (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:GetFunctionConfiguration'],
        resources: [props.transform.functionArn, `${props.transform.functionArn}:*`],
      }),
    );

    Validations.of(this.deliveryStream).acknowledge({
      id: 'AwsSolutions::AwsSolutions-KDF1',
      reason:
        'A delivery stream with a Kinesis Data Stream as its source cannot have its own server-side encryption; ' +
        'records are encrypted in the stream (KMS) and in S3 (SSE-S3).',
    });
    Validations.of(this.role).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'glue:GetSchemaVersion, added by the Firehose L2 for record-format conversion, has no resource-level ' +
          'permissions; the schema itself is read from the one Glue table (scoped).',
      },
      ...[eventsPrefix, errorsPrefix].map((prefix) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${resourceLogicalId(props.lakeBucket)}.Arn>/${prefix}*]`,
        reason: `Firehose names its objects at run time (partition keys, timestamps, ids): writes are limited to ${prefix} of the lake bucket.`,
      })),
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${resourceLogicalId(props.transform)}.Arn>:*]`,
        reason: 'Firehose invokes only the transform; ":*" (its versions and aliases) is added by grantInvoke.',
      },
    );
  }
}
