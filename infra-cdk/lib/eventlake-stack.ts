import { CfnOutput, Duration, Size, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { retentionDays, type StageConfig } from './config';
import { AthenaLayer } from './constructs/athena-layer';
import { CuratedCompaction } from './constructs/curated-compaction';
import { createCuratedTable, typedColumnDefinitions, curatedTableName } from './curated-sql';
import { EventDelivery } from './constructs/event-delivery';
import { LakeCatalog } from './constructs/lake-catalog';
import { LakeStorage } from './constructs/lake-storage';
import { PipelineMonitoring } from './constructs/pipeline-monitoring';
import { TRANSFORM_METRICS_NAMESPACE, TransformFunction } from './constructs/transform-function';
import { BUCKET_PLACEHOLDER, type LakeSchema, loadLakeSchema } from './schema';

/** Props of {@link EventlakeStack}. */
export interface EventlakeStackProps extends StackProps {
  /** The stage's settings (see `stageConfig`). */
  readonly config: StageConfig;
  /** The table and catalog. @default read from the repository's `glue-schema/` */
  readonly schema?: LakeSchema;
  /** The transform's code. @default built from the workspace with cargo-lambda */
  readonly transformCode?: lambda.Code;
}

/**
 * One stage of eventlake: stream → Firehose (→ transform Lambda) → Parquet lake on S3 → Glue
 * table → Athena workgroup, with alarms and a dashboard. Composes the constructs; holds no
 * resources of its own.
 */
export class EventlakeStack extends Stack {
  /** The buckets. */
  readonly storage: LakeStorage;
  /** The transform Lambda. */
  readonly transform: TransformFunction;
  /** Glue database/table and Athena workgroup. */
  readonly catalog: LakeCatalog;
  /** Kinesis stream and Firehose. */
  readonly delivery: EventDelivery;
  /** Alarms and dashboard. */
  readonly monitoring: PipelineMonitoring;
  /** The deduplicated, compacted curated table and its daily job. */
  readonly curated: CuratedCompaction;
  /** The views and the curated table, created in Athena at deploy. */
  readonly athenaLayer: AthenaLayer;

  constructor(scope: Construct, id: string, props: EventlakeStackProps) {
    super(scope, id, props);
    const { config } = props;
    const schema = props.schema ?? loadLakeSchema();
    const namePrefix = `eventlake-${config.stage}`;
    const logRetention = retentionDays(config.logRetentionDays);

    this.storage = new LakeStorage(this, 'Storage', {
      eventsPrefix: schema.table.storage.eventsPrefix,
      errorsPrefix: schema.table.storage.errorsPrefix,
      retainData: config.retainData,
      infrequentAccessAfterDays: config.lakeInfrequentAccessAfterDays,
      glacierAfterDays: config.lakeGlacierAfterDays,
      queryResultsRetentionDays: config.athenaResultsRetentionDays,
    });

    const timeout = Duration.seconds(config.transformTimeoutSeconds);
    this.transform = new TransformFunction(this, 'Transform', {
      namePrefix,
      architecture: config.transformArchitecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      memorySize: config.transformMemoryMb,
      timeout,
      logRetention,
      retainLogs: config.retainData,
      code: props.transformCode,
      lakeDateRange: config.lakeDateRange,
    });

    this.catalog = new LakeCatalog(this, 'Catalog', {
      schema,
      lakeBucket: this.storage.lakeBucket,
      queryResultsBucket: this.storage.queryResultsBucket,
      workGroupName: namePrefix,
      databaseName: config.glueDatabase,
      lakeDateRange: config.lakeDateRange,
      bytesScannedCutoff: Size.gibibytes(config.athenaBytesScannedCutoffGiB),
    });

    const def = schema.table;
    this.athenaLayer = new AthenaLayer(this, 'AthenaLayer', {
      namePrefix,
      databaseName: this.catalog.databaseName,
      sourceDatabaseName: def.database,
      workGroupName: namePrefix,
      statements: [
        {
          name: curatedTableName(def),
          kind: 'table',
          sql: createCuratedTable(def, schema.typedColumns, def.database, `s3://${BUCKET_PLACEHOLDER}/${def.storage.curatedPrefix}`),
          columns: typedColumnDefinitions(schema.typedColumns),
        },
        ...schema.namedQueries.filter((q) => q.kind === 'view').map((q) => ({ name: q.name, kind: 'view' as const, sql: q.sql })),
      ],
      substitutions: { [BUCKET_PLACEHOLDER]: this.storage.lakeBucket.bucketName },
      lakeBucket: this.storage.lakeBucket,
      readPrefixes: [def.storage.eventsPrefix],
      writePrefixes: [def.storage.curatedPrefix],
      queryResultsBucket: this.storage.queryResultsBucket,
      after: [this.catalog.database, this.catalog.table, this.catalog.workGroup],
      logRetention,
      curatedDaysFrom: curatedTableName(def),
    });

    this.delivery = new EventDelivery(this, 'Pipeline', {
      namePrefix,
      tableDefinition: schema.table,
      table: this.catalog.table,
      transform: this.transform.function,
      lakeBucket: this.storage.lakeBucket,
      shards: config.streamCapacity.mode === 'provisioned' ? config.streamCapacity.shards : undefined,
      streamRetention: Duration.hours(config.streamRetentionHours),
      processorBufferSize: Size.mebibytes(config.processorBufferMiB),
      processorBufferInterval: Duration.seconds(config.processorBufferSeconds),
      s3BufferSize: Size.mebibytes(config.s3BufferMiB),
      s3BufferInterval: Duration.seconds(config.s3BufferSeconds),
      deaggregateRecords: config.deaggregateRecords,
      logRetention,
      retainData: config.retainData,
    });

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      namePrefix,
      stream: this.delivery.stream,
      deliveryStream: this.delivery.deliveryStream,
      transform: this.transform.function,
      transformTimeout: timeout,
      transformMetricsNamespace: TRANSFORM_METRICS_NAMESPACE,
      freshnessThreshold: Duration.seconds(config.freshnessAlarmSeconds ?? config.s3BufferSeconds + 900),
      alarmEmail: config.alarmEmail,
    });

    this.curated = new CuratedCompaction(this, 'Curated', {
      namePrefix,
      tableDefinition: schema.table,
      eventTypes: schema.eventTypes,
      typedColumns: schema.typedColumns,
      databaseName: this.catalog.databaseName,
      workGroupName: namePrefix,
      lakeBucket: this.storage.lakeBucket,
      queryResultsBucket: this.storage.queryResultsBucket,
      lookbackDays: config.curatedLookbackDays,
      alarmTopic: this.monitoring.topic,
      logRetention,
      retainLogs: config.retainData,
      remakeViews: { handler: this.athenaLayer.handler, event: this.athenaLayer.refreshEvent },
    });
    this.curated.node.addDependency(this.catalog);
    this.monitoring.watch('Curated table job', [this.curated.failureAlarm]);

    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason:
        'The Firehose L2 adds a mapping of Firehose CIDR blocks per region for HTTP/Redshift destinations; ' +
        'an S3 destination does not use it.',
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description, exportName: `${namePrefix}-${id}` });
    output('StreamName', this.delivery.stream.streamName, 'Kinesis stream producers write events to');
    output('DeliveryStreamName', this.delivery.deliveryStream.deliveryStreamName, 'Firehose delivery stream');
    output('LakeBucketName', this.storage.lakeBucket.bucketName, 'Lake bucket: events/ (Parquet) and errors/');
    output('GlueDatabase', this.catalog.databaseName, 'Glue database of the events table');
    output('WorkGroupName', namePrefix, 'Athena workgroup for analysts');
    output('TransformFunctionName', this.transform.function.functionName, 'Transform Lambda');
    output('AlarmTopicArn', this.monitoring.topic.topicArn, 'SNS topic every alarm notifies');
  }
}

