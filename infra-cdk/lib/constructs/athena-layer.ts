import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IDependable } from 'constructs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { type ColumnDefinition, digestOf, type LayerStatement, statementText, withDependencies } from '../athena-layer/statements';
import { checkQuerySize } from '../curated-sql';
import { resourceLogicalId } from './logical-id';
import { DEFAULTS, retentionDays } from '../config';

/**
 * Largest size of the statements' digests in the resource's properties. CloudFormation
 * invokes the provider asynchronously (at most 1 MB, https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html)
 * and an update carries the old properties too: 400 KB keeps both with room to spare. (The
 * SQL itself is in an S3 asset: ~250 KB for today's catalog, which would take more than half
 * of CloudFormation's 460,800-byte template.)
 */
export const MAX_STATEMENTS_BYTES = 400 * 1024;

/** Props of {@link AthenaLayer}. */
export interface AthenaLayerProps {
  /** Name prefix of the handler function and its log group. */
  readonly namePrefix: string;
  /** The database the statements create their objects in. */
  readonly databaseName: string;
  /** The database the statements' names are qualified with (the generated SQL's, `table.json`'s). */
  readonly sourceDatabaseName: string;
  /** Workgroup the queries run in (its result location and encryption apply). */
  readonly workGroupName: string;
  /**
   * The statements: views and tables, in any order (dependencies are read from the SQL). Their
   * text is fixed at synth (it is uploaded as an asset): a deploy-time value goes in as a
   * placeholder of `substitutions`.
   */
  readonly statements: readonly { name: string; kind: 'view' | 'table'; sql: string; columns?: readonly ColumnDefinition[] }[];
  /** Placeholders in the statements and the (deploy-time) values the handler puts there. @default none */
  readonly substitutions?: Readonly<Record<string, string>>;
  /** The lake bucket: Athena reads `readPrefixes` and writes `writePrefixes` of it. */
  readonly lakeBucket: s3.IBucket;
  /** Prefixes the statements read (e.g. `events/`). */
  readonly readPrefixes: readonly string[];
  /** Prefixes the statements write (an Iceberg table's metadata, e.g. `curated/`). */
  readonly writePrefixes: readonly string[];
  /** The workgroup's query-results bucket. */
  readonly queryResultsBucket: s3.IBucket;
  /** What must exist before the statements run: the Glue database and tables, the workgroup. */
  readonly after: readonly IDependable[];
  /** Log retention of the handler. @default `DEFAULTS.logRetentionDays` (config.ts) */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The statements' table whose days fill the typed views' curated-days slots (the curated
   * table): asked each time a typed view runs. @default none: the slots stay, the views read
   * the raw table only
   */
  readonly curatedDaysFrom?: string;
}

/**
 * The analysts' layer, created for real at deploy: a custom resource (CDK Provider framework,
 * handler `lib/athena-layer/handler.ts`) that runs each statement in Athena in dependency
 * order, waits for it, fails the deploy with Athena's message when one fails, runs again only
 * what changed when the generated SQL changes, and leaves everything alone on stack delete.
 * Real Athena DDL rather than Glue `VIRTUAL_VIEW` tables: Athena's view encoding in Glue is
 * not documented as an API, `CREATE OR REPLACE VIEW` is.
 */
export class AthenaLayer extends Construct {
  /** The custom resource. */
  readonly resource: CustomResource;
  /** The statements it runs, with their dependencies. */
  readonly statements: LayerStatement[];
  /** The handler. */
  readonly handler: lambda.IFunction;
  /** The statements as the deploy uploads them (an S3 asset the handler reads). */
  readonly statementsAsset: s3assets.Asset;
  /**
   * The event that makes the handler run every typed view again with the curated days of the
   * moment (`RequestType: 'Refresh'` and the resource's own properties): the curated job
   * invokes the handler with it after its writes.
   */
  readonly refreshEvent: { readonly RequestType: 'Refresh'; readonly ResourceProperties: Record<string, unknown> };

  constructor(scope: Construct, id: string, props: AthenaLayerProps) {
    super(scope, id);
    this.statements = withDependencies(
      props.sourceDatabaseName,
      props.statements.map((s) => ({ ...s, sql: statementText(s.sql) })),
    );
    for (const s of this.statements) {
      checkQuerySize('AthenaLayer', s.name, s.sql);
      if (Token.isUnresolved(s.sql)) {
        throw new Error(`AthenaLayer: ${s.name} holds a deploy-time value: put a placeholder there and its value in substitutions`);
      }
    }
    const digests = this.statements.map(digestOf);
    const size = Buffer.byteLength(JSON.stringify(digests));
    if (size > MAX_STATEMENTS_BYTES) {
      throw new Error(`AthenaLayer: the statements' digests are ${size} bytes, over ${MAX_STATEMENTS_BYTES} (CloudFormation passes them to Lambda)`);
    }
    // The statements as a file asset: `cdk deploy` uploads it to the bootstrap bucket under a
    // name made of its content hash, so a changed statement is a changed object.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-athena-layer-'));
    fs.writeFileSync(path.join(dir, 'statements.json'), JSON.stringify(this.statements));
    this.statementsAsset = new s3assets.Asset(this, 'Statements', { path: path.join(dir, 'statements.json') });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${props.namePrefix}-athena-layer`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the Athena layer's DDL in ${props.databaseName} (views, tables)`,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const stack = Stack.of(this);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution', 'athena:GetWorkGroup'],
        resources: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workGroupName })],
      }),
    );
    // DDL in the Glue Data Catalog (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable', 'glue:GetPartitions'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.databaseName }),
          stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.databaseName}/*` }),
        ],
      }),
    );
    for (const prefix of props.readPrefixes) {
      props.lakeBucket.grantRead(role, `${prefix}*`);
    }
    for (const prefix of props.writePrefixes) {
      props.lakeBucket.grantReadWrite(role, `${prefix}*`);
    }
    props.queryResultsBucket.grantReadWrite(role);
    // The statements object: this one object of the asset bucket.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [`arn:${stack.partition}:s3:::${this.statementsAsset.s3BucketName}/${this.statementsAsset.s3ObjectKey}`],
      }),
    );

    const fn = new nodejs.NodejsFunction(this, 'Handler', {
      functionName: `${props.namePrefix}-athena-layer`,
      description: 'eventlake: runs the Athena views and tables DDL at deploy (custom resource)',
      entry: path.join(__dirname, '..', 'athena-layer', 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(14),
      role,
      logGroup,
      // The runtime's AWS SDK v3 is used; nothing else is bundled.
      bundling: { externalModules: ['@aws-sdk/*'], minify: true, sourceMap: false },
    });
    this.handler = fn;
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    if (props.curatedDaysFrom !== undefined && !this.statements.some((s) => s.kind === 'table' && s.name === props.curatedDaysFrom)) {
      throw new Error(`AthenaLayer: curatedDaysFrom ${props.curatedDaysFrom} is not a table of the layer`);
    }
    const properties = {
      Database: props.databaseName,
      SourceDatabase: props.sourceDatabaseName,
      WorkGroup: props.workGroupName,
      Statements: digests,
      StatementsObject: { Bucket: this.statementsAsset.s3BucketName, Key: this.statementsAsset.s3ObjectKey },
      Substitutions: props.substitutions ?? {},
      ...(props.curatedDaysFrom !== undefined ? { CuratedDaysFrom: props.curatedDaysFrom } : {}),
    };
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::EventlakeAthenaLayer',
      properties,
    });
    this.refreshEvent = { RequestType: 'Refresh', ResourceProperties: properties };
    for (const d of props.after) {
      this.resource.node.addDependency(d);
    }

    const ack = (finding: string, reason: string) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`, reason });
    const s3Reason =
      'Athena reads the raw table, writes Iceberg metadata and query results under names it chooses: CDK\'s S3 action ' +
      'groups, limited to the named prefixes of the lake bucket and the results bucket.';
    Validations.of(role).acknowledge(
      ...['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*'].map((a) => ack(`Action::${a}`, s3Reason)),
      ...[...props.readPrefixes, ...props.writePrefixes].map((p) => ack(`Resource::<${resourceLogicalId(props.lakeBucket)}.Arn>/${p}*`, s3Reason)),
      ack(`Resource::<${resourceLogicalId(props.queryResultsBucket)}.Arn>/*`, s3Reason),
      ack(
        `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${props.databaseName}/*`,
        'The layer creates and replaces the views and tables of this database only.',
      ),
    );
    Validations.of(provider).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "CDK's Provider framework function uses AWSLambdaBasicExecutionRole (logs only).",
      },
      ack(`Resource::<${resourceLogicalId(fn)}.Arn>:*`, 'The Provider framework may invoke the handler and its versions.'),
      { id: 'AwsSolutions::AwsSolutions-L1', reason: "The Provider framework's own function runtime is chosen by CDK." },
    );
  }
}
