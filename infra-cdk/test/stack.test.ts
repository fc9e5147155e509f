import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorOutputPrefix } from '../lib/constructs/event-delivery';
import { OUTSIDE_LAKE_WINDOW_REASON, TRANSFORM_METRIC } from '../lib/constructs/pipeline-monitoring';
import { TRANSFORM_METRICS_NAMESPACE, WORKSPACE_DIR } from '../lib/constructs/transform-function';
import { LAKE_DATE_RANGE_ENV } from '../lib/lake-window';
import { BUCKET_PLACEHOLDER, GLUE_SCHEMA_DIR, loadLakeSchema } from '../lib/schema';
import { digestOf, type LayerStatement } from '../lib/athena-layer/statements';
import { only, synthStage, template } from './helpers';

const dev = () => template('dev');
const prod = () => template('prod');

/** The Firehose delivery stream's extended S3 destination of a template. */
const destination = (t = prod()) => only(t, 'AWS::KinesisFirehose::DeliveryStream').props.ExtendedS3DestinationConfiguration;

/** Processor parameters by processor type. */
const processors = (t = prod()) =>
  Object.fromEntries(
    destination(t).ProcessingConfiguration.Processors.map((p: any) => [
      p.Type,
      Object.fromEntries(p.Parameters.map((x: any) => [x.ParameterName, x.ParameterValue])),
    ]),
  ) as Record<string, Record<string, unknown>>;

describe('Kinesis stream', () => {
  it('is encrypted with KMS and on-demand by default', () => {
    prod().hasResourceProperties('AWS::Kinesis::Stream', {
      Name: 'eventlake-prod-events',
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 168,
    });
  });

  it('uses provisioned shards when the stage says so', () => {
    template('staging', { streamCapacity: { mode: 'provisioned', shards: 3 } }).hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 3,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
  });

  it('is retained in prod and deleted with a dev stack', () => {
    prod().hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Retain' });
    dev().hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Delete' });
  });
});

describe('transform Lambda', () => {
  it('runs provided.al2023 on arm64 with the configured memory, timeout and JSON logs', () => {
    prod().hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'eventlake-prod-transform',
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 60,
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' }),
      Environment: { Variables: { EVENTLAKE_METRICS_NAMESPACE: 'eventlake' } },
    });
  });

  it('can be built for x86_64', () => {
    template('staging', { transformArchitecture: 'x86_64' }).hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'eventlake-staging-transform',
      Architectures: ['x86_64'],
    });
  });

  it('has its own log group with a retention', () => {
    prod().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/eventlake-prod-transform', RetentionInDays: 90 });
    dev().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/eventlake-dev-transform', RetentionInDays: 14 });
  });

  it('may only write its own logs', () => {
    const [id, resource] = Object.entries(prod().findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'eventlake-prod-transform' } }))[0] as [string, any];
    const fn = { id, props: resource.Properties };
    const roleId = fn.props.Role['Fn::GetAtt'][0];
    const policies = Object.values(prod().findResources('AWS::IAM::Policy')).filter((p: any) =>
      p.Properties.Roles.some((r: any) => r.Ref === roleId),
    ) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    assert.deepEqual(statements.map((s) => s.Action).flat().sort(), ['logs:CreateLogStream', 'logs:PutLogEvents']);
    const role = prod().toJSON().Resources[roleId];
    assert.equal(role.Properties.ManagedPolicyArns, undefined, 'no managed policies');
  });
});

describe('Firehose delivery stream', () => {
  it('reads the Kinesis stream', () => {
    const ds = only(prod(), 'AWS::KinesisFirehose::DeliveryStream').props;
    assert.equal(ds.DeliveryStreamType, 'KinesisStreamAsSource');
    assert.ok(ds.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][1] === 'Arn');
  });

  it('deaggregates multi-event records (JSON) before the Lambda, which has explicit buffer hints', () => {
    const d = destination();
    assert.deepEqual(
      d.ProcessingConfiguration.Processors.map((p: any) => p.Type),
      ['RecordDeAggregation', 'Lambda'],
      'deaggregation runs first',
    );
    const p = processors();
    assert.equal(p.RecordDeAggregation.SubRecordType, 'JSON');
    assert.equal(p.Lambda.BufferSizeInMBs, '3');
    assert.equal(p.Lambda.BufferIntervalInSeconds, '60');
    assert.equal(p.Lambda.NumberOfRetries, '3');
    assert.equal(d.ProcessingConfiguration.Enabled, true);
  });

  it('can leave deaggregation off', () => {
    const p = processors(template('staging', { deaggregateRecords: false }));
    assert.deepEqual(Object.keys(p), ['Lambda']);
  });

  it('partitions dynamically by the keys the transform returns', () => {
    const d = destination();
    assert.deepEqual(d.DynamicPartitioningConfiguration, { Enabled: true, RetryOptions: { DurationInSeconds: 300 } });
    assert.equal(d.Prefix, 'events/event_type=!{partitionKeyFromLambda:event_type}/created_date=!{partitionKeyFromLambda:created_date}/');
  });

  it('writes failures under errors/<error-output-type>/yyyy/MM/dd/HH/', () => {
    assert.equal(destination().ErrorOutputPrefix, errorOutputPrefix(loadLakeSchema().table));
    assert.match(destination().ErrorOutputPrefix, /^errors\/!\{firehose:error-output-type\}\/!\{timestamp:yyyy\/MM\/dd\/HH\}\/$/);
  });

  it('converts OpenX JSON to SNAPPY Parquet against the Glue table', () => {
    const conv = destination().DataFormatConversionConfiguration;
    assert.equal(conv.Enabled, true);
    assert.ok(conv.InputFormatConfiguration.Deserializer.OpenXJsonSerDe !== undefined);
    assert.equal(conv.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression, 'SNAPPY');
    const tableId = only(prod(), 'AWS::Glue::Table').id;
    assert.deepEqual(conv.SchemaConfiguration.TableName, { Ref: tableId });
    assert.equal(conv.SchemaConfiguration.DatabaseName, 'eventlake');
    assert.equal(conv.SchemaConfiguration.VersionId, 'LATEST');
    assert.equal(destination().FileExtension, '.parquet');
  });

  it('buffers 128 MiB / 900 s per partition in prod, 60 s in dev', () => {
    assert.deepEqual(destination().BufferingHints, { SizeInMBs: 128, IntervalInSeconds: 900 });
    assert.deepEqual(destination(dev()).BufferingHints, { SizeInMBs: 128, IntervalInSeconds: 60 });
  });

  it('logs delivery errors to its own log group', () => {
    const logging = destination().CloudWatchLoggingOptions;
    assert.equal(logging.Enabled, true);
    prod().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/kinesisfirehose/eventlake-prod', RetentionInDays: 90 });
  });

  it('rejects buffers Firehose would refuse', () => {
    assert.throws(() => template('staging', { s3BufferMiB: 16 }), /s3BufferMiB must be an integer in 64..128/);
  });
});

describe('Firehose role (least privilege)', () => {
  const statements = () => {
    const ds = only(prod(), 'AWS::KinesisFirehose::DeliveryStream').props;
    const roleId = ds.ExtendedS3DestinationConfiguration.RoleARN['Fn::GetAtt'][0];
    const policies = Object.values(prod().findResources('AWS::IAM::Policy')).filter((p: any) =>
      p.Properties.Roles.some((r: any) => r.Ref === roleId),
    ) as any[];
    return policies.flatMap((p) => p.Properties.PolicyDocument.Statement) as any[];
  };
  const actions = () => new Set(statements().flatMap((s) => [s.Action].flat()));

  it('may read the stream, invoke the transform, write the lake and read the Glue table', () => {
    const a = actions();
    for (const needed of ['kinesis:GetRecords', 'kinesis:GetShardIterator', 'lambda:InvokeFunction', 's3:PutObject', 'glue:GetTableVersions']) {
      assert.ok(a.has(needed), `${needed} granted`);
    }
  });

  it('has no wildcard action, and * as resource only for glue:GetSchemaVersion (no resource-level permissions)', () => {
    for (const s of statements()) {
      for (const action of [s.Action].flat()) {
        assert.ok(!String(action).includes('*'), `wildcard action ${action}`);
      }
      if ([s.Resource].flat().includes('*')) {
        assert.deepEqual([s.Action].flat(), ['glue:GetSchemaVersion']);
      }
    }
  });

  it('may read the transform\'s configuration, as AWS documents the Firehose role', () => {
    const s = statements().find((x) => [x.Action].flat().includes('lambda:GetFunctionConfiguration'));
    assert.ok(s, 'lambda:GetFunctionConfiguration granted');
    assert.match(JSON.stringify(s.Resource), /Transform/);
  });

  it('writes objects only under events/ and errors/ of the lake bucket', () => {
    const puts = statements().filter((s) => [s.Action].flat().includes('s3:PutObject'));
    const resources = puts.flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r));
    assert.ok(resources.length > 0);
    for (const r of resources) {
      assert.match(r, /\/(events|errors)\/\*"/, `PutObject limited to a lake prefix: ${r}`);
    }
  });
});

describe('lake bucket', () => {
  const lake = (t = prod()) => {
    const buckets = Object.entries(t.findResources('AWS::S3::Bucket')).filter(([id]) => id.startsWith('StorageLake'));
    assert.equal(buckets.length, 1);
    return buckets[0][1] as any;
  };

  it('is encrypted, private, versioned and logged', () => {
    const p = lake().Properties;
    assert.deepEqual(p.BucketEncryption.ServerSideEncryptionConfiguration, [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(p.VersioningConfiguration, { Status: 'Enabled' });
    assert.equal(p.LoggingConfiguration.LogFilePrefix, 'lake/');
    assert.deepEqual(p.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  it('refuses requests without TLS (every bucket)', () => {
    const policies = Object.values(prod().findResources('AWS::S3::BucketPolicy')) as any[];
    assert.equal(policies.length, 3);
    for (const policy of policies) {
      assert.ok(
        policy.Properties.PolicyDocument.Statement.some(
          (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
        ),
      );
    }
  });

  it('moves old events and errors to cheaper storage and expires old versions', () => {
    const rules = lake().Properties.LifecycleConfiguration.Rules as any[];
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    assert.deepEqual(
      byId['events-to-cheaper-storage'].Transitions,
      [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 90 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 365 },
      ],
    );
    assert.equal(byId['events-to-cheaper-storage'].Prefix, 'events/');
    assert.equal(byId['errors-to-cheaper-storage'].Prefix, 'errors/');
    assert.equal(byId['errors-to-cheaper-storage'].ExpirationInDays, undefined, 'rejected records are never deleted');
    assert.equal(byId['expire-old-versions'].NoncurrentVersionExpiration.NoncurrentDays, 30);
  });

  it('is retained in prod; a dev stack empties and deletes it', () => {
    assert.equal(lake().DeletionPolicy, 'Retain');
    assert.equal(lake(dev()).DeletionPolicy, 'Delete');
    dev().resourceCountIs('Custom::S3AutoDeleteObjects', 3);
    prod().resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('Glue and Athena', () => {
  it('creates the database and the table with partition projection over the lake', () => {
    prod().hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'eventlake' } });
    const table = only(prod(), 'AWS::Glue::Table').props.TableInput;
    assert.equal(table.Name, 'events');
    assert.equal(table.TableType, 'EXTERNAL_TABLE');
    assert.equal(table.Parameters['projection.enabled'], 'true');
    assert.equal(table.Parameters['projection.created_date.type'], 'date');
    assert.equal(table.Parameters['projection.created_date.format'], 'yyyy-MM-dd');
    assert.equal(table.Parameters['projection.event_type.type'], 'enum');
    assert.equal(table.StorageDescriptor.SerdeInfo.SerializationLibrary, 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
  });

  it('has a workgroup with enforced settings, encrypted results and a scan cutoff', () => {
    const wg = only(prod(), 'AWS::Athena::WorkGroup').props;
    assert.equal(wg.Name, 'eventlake-prod');
    const c = wg.WorkGroupConfiguration;
    assert.equal(c.EnforceWorkGroupConfiguration, true);
    assert.equal(c.BytesScannedCutoffPerQuery, 100 * 1024 ** 3);
    assert.equal(c.PublishCloudWatchMetricsEnabled, true);
    assert.deepEqual(c.ResultConfiguration.EncryptionConfiguration, { EncryptionOption: 'SSE_S3' });
    assert.equal(c.EngineVersion.SelectedEngineVersion, 'Athena engine version 3');
    assert.equal(only(dev(), 'AWS::Athena::WorkGroup').props.WorkGroupConfiguration.BytesScannedCutoffPerQuery, 10 * 1024 ** 3);
  });

  it('saves every cookbook query as a named query in the workgroup (views are created, not saved)', () => {
    const queries = Object.values(prod().findResources('AWS::Athena::NamedQuery')) as any[];
    const names = queries.map((q) => q.Properties.Name).sort();
    const cookbook = fs.readdirSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'queries')).map((f) => f.replace(/\.sql$/, '').replace(/_/g, ' '));
    assert.deepEqual(names, cookbook.sort());
    for (const q of queries) {
      assert.equal(q.Properties.Database, 'eventlake');
      assert.equal(q.Properties.WorkGroup, 'eventlake-prod');
    }
  });

  it('renames the database everywhere when a stage sets glueDatabase', () => {
    const t = template('staging', { glueDatabase: 'eventlake_staging' });
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'eventlake_staging' } });
    const conv = destination(t).DataFormatConversionConfiguration;
    assert.equal(conv.SchemaConfiguration.DatabaseName, 'eventlake_staging');
    const layer = only(t, 'Custom::EventlakeAthenaLayer').props;
    assert.equal(layer.Database, 'eventlake_staging', 'the handler re-qualifies the generated SQL to this database');
    assert.equal(layer.SourceDatabase, 'eventlake');
    for (const q of Object.values(t.findResources('AWS::Athena::NamedQuery')) as any[]) {
      assert.equal(q.Properties.Database, 'eventlake_staging');
      assert.doesNotMatch(q.Properties.QueryString, /[^_]eventlake\./);
    }
  });
});

describe('the lake window', () => {
  const range = (t: ReturnType<typeof prod>) => only(t, 'AWS::Glue::Table').props.TableInput.Parameters['projection.created_date.range'];
  const env = (t: ReturnType<typeof prod>) =>
    (Object.values(t.findResources('AWS::Lambda::Function')) as any[]).find((f) => f.Properties.FunctionName === 'eventlake-prod-transform')
      .Properties.Environment.Variables[LAKE_DATE_RANGE_ENV];

  it("gives the transform the Glue table's date range", () => {
    assert.equal(range(prod()), '2020-01-01,NOW+1DAYS');
    assert.equal(env(prod()), range(prod()));
  });

  it('moves both when a stage widens it', () => {
    const t = template('prod', { lakeDateRange: '2015-01-01,NOW+2DAYS' });
    assert.equal(range(t), '2015-01-01,NOW+2DAYS');
    assert.equal(env(t), '2015-01-01,NOW+2DAYS');
  });

  it("fills the generated SQL's bucket placeholder, the one the Rust generator writes", () => {
    const athenaRs = fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'src', 'athena.rs'), 'utf8');
    assert.match(athenaRs, new RegExp(`pub const BUCKET_PLACEHOLDER: &str = "${BUCKET_PLACEHOLDER}";`));
  });

  it('uses the variable name the transform reads', () => {
    const handlerRs = fs.readFileSync(path.join(WORKSPACE_DIR, 'transform', 'src', 'handler.rs'), 'utf8');
    assert.match(handlerRs, new RegExp(`pub const LAKE_DATE_RANGE_ENV: &str = "${LAKE_DATE_RANGE_ENV}";`));
  });
});

describe('the Athena layer, created at deploy', () => {
  const layer = (t = prod()) => only(t, 'Custom::EventlakeAthenaLayer');

  it('runs every generated view and the curated table, each as one statement', () => {
    const { app, stack } = synthStage('prod');
    // The SQL is in the asset the deploy uploads and the handler reads; the template carries
    // each statement's digest.
    const statements = JSON.parse(fs.readFileSync(path.join(app.outdir, stack.athenaLayer.statementsAsset.assetPath), 'utf8')) as LayerStatement[];
    assert.deepEqual(statements, stack.athenaLayer.statements);
    assert.deepEqual(layer().props.Statements, statements.map(digestOf));
    assert.deepEqual(Object.keys(layer().props.StatementsObject), ['Bucket', 'Key']);
    assert.deepEqual(Object.keys(layer().props.Substitutions), ['EVENTLAKE_BUCKET'], 'the lake bucket, filled in at deploy');
    const views = fs.readdirSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'views')).map((f) => f.replace(/\.sql$/, ''));
    assert.deepEqual(statements.filter((s) => s.kind === 'view').map((s) => s.name).sort(), views.sort());
    assert.deepEqual(statements.filter((s) => s.kind === 'table').map((s) => s.name), ['events_curated']);
    for (const s of statements) {
      if (s.kind === 'view') {
        assert.match(s.sql, new RegExp(`^CREATE OR REPLACE VIEW eventlake\\.${s.name} AS`), s.name);
      }
      const text = typeof s.sql === 'string' ? s.sql : JSON.stringify(s.sql); // the curated table's LOCATION is a token
      assert.doesNotMatch(text, /^--|;\s*$/m, `${s.name}: no comments, no trailing semicolon`);
    }
  });

  it('runs after the Glue database, the raw table and the workgroup exist', () => {
    const t = prod();
    const dependsOn: string[] = (t.findResources('Custom::EventlakeAthenaLayer')[layer(t).id] as any).DependsOn;
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      assert.ok(dependsOn.includes(only(t, type).id), `depends on the ${type}`);
    }
  });

  it('has a handler that may run Athena DDL in this workgroup and database only', () => {
    const t = prod();
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'eventlake-prod-athena-layer', Runtime: 'nodejs24.x', Timeout: 840 });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    assert.match(policies, /athena:StartQueryExecution/);
    assert.match(policies, /"glue:CreateTable"/);
    assert.match(policies, /table\/eventlake\/\*/);
  });
});

describe('alarms and dashboard', () => {
  // The pipeline's alarms (the curated-table job's alarm is tested with the job).
  const alarms = (t = prod()) =>
    Object.fromEntries(
      (Object.values(t.findResources('AWS::CloudWatch::Alarm')) as any[])
        .filter((a) => !String(a.Properties.AlarmName).endsWith('-curate-failed'))
        .map((a) => [a.Properties.AlarmName, a.Properties]),
    );

  it('alarm on freshness, failures, rejects, Lambda errors/throttles and Kinesis iterator age/throttles', () => {
    const a = alarms();
    const expect = {
      'eventlake-prod-delivery-freshness': ['AWS/Firehose', 'DeliveryToS3.DataFreshness'],
      'eventlake-prod-delivery-failures': ['AWS/Firehose', 'DeliveryToS3.Success'],
      'eventlake-prod-processing-failures': ['AWS/Firehose', 'ExecuteProcessing.Success'],
      'eventlake-prod-conversion-failures': ['AWS/Firehose', 'FailedConversion.Records'],
      'eventlake-prod-partition-limit': ['AWS/Firehose', 'PartitionCountExceeded'],
      'eventlake-prod-records-rejected': ['eventlake', 'RecordsProcessingFailed'],
      'eventlake-prod-records-outside-lake-window': ['eventlake', 'RecordsProcessingFailed'],
      'eventlake-prod-field-drift': ['eventlake', 'RecordsFieldDrift'],
      'eventlake-prod-transform-errors': ['AWS/Lambda', 'Errors'],
      'eventlake-prod-transform-throttles': ['AWS/Lambda', 'Throttles'],
      'eventlake-prod-transform-duration': ['AWS/Lambda', 'Duration'],
      'eventlake-prod-stream-iterator-age': ['AWS/Kinesis', 'GetRecords.IteratorAgeMilliseconds'],
      'eventlake-prod-stream-write-throttles': ['AWS/Kinesis', 'WriteProvisionedThroughputExceeded'],
    };
    assert.deepEqual(Object.keys(a).sort(), Object.keys(expect).sort());
    for (const [name, [namespace, metric]] of Object.entries(expect)) {
      assert.equal(a[name].Namespace, namespace, name);
      assert.equal(a[name].MetricName, metric, name);
      assert.equal(a[name].AlarmActions.length, 1, `${name} notifies the topic`);
    }
  });

  it('watches the transform metrics of this delivery stream', () => {
    // The transform names the dimension after the delivery stream (the end of deliveryStreamArn).
    const rejected = alarms()['eventlake-prod-records-rejected'];
    const firehose = only(prod(), 'AWS::KinesisFirehose::DeliveryStream');
    assert.equal(firehose.props.DeliveryStreamName, 'eventlake-prod');
    assert.deepEqual(rejected.Dimensions, [{ Name: 'DeliveryStream', Value: { Ref: firehose.id } }]);
    assert.equal(rejected.Threshold, 0);
  });

  it('alarms on events dated outside the lake window, by the reason code the transform emits', () => {
    const a = alarms()['eventlake-prod-records-outside-lake-window'];
    const firehose = only(prod(), 'AWS::KinesisFirehose::DeliveryStream');
    assert.deepEqual(a.Dimensions, [
      { Name: 'DeliveryStream', Value: { Ref: firehose.id } },
      { Name: 'Reason', Value: OUTSIDE_LAKE_WINDOW_REASON },
    ]);
    const errorRs = fs.readFileSync(path.join(WORKSPACE_DIR, 'transform', 'src', 'error.rs'), 'utf8');
    assert.match(errorRs, new RegExp(`RecordError::OutsideLakeWindow \\{ \\.\\. \\} => "${OUTSIDE_LAKE_WINDOW_REASON}"`), 'the transform emits this code');
  });

  it('watches metric names the transform emits, in the namespace it is given', () => {
    const telemetry = fs.readFileSync(path.join(WORKSPACE_DIR, 'transform', 'src', 'telemetry.rs'), 'utf8');
    const emitted = new Set([...telemetry.matchAll(/pub const [A-Z_]+: &str = "(\w+)";/g)].map((m) => m[1]));
    for (const name of Object.values(TRANSFORM_METRIC)) {
      assert.ok(emitted.has(name), `${name} is a metric of transform/src/telemetry.rs`);
    }
    const transformAlarms = Object.values(alarms()).filter((a: any) => a.Namespace === TRANSFORM_METRICS_NAMESPACE);
    assert.ok(transformAlarms.length >= 2);
    for (const a of transformAlarms as any[]) {
      assert.ok(emitted.has(a.MetricName), a.MetricName);
    }
    const fn = (Object.values(prod().findResources('AWS::Lambda::Function')) as any[]).find((f) => f.Properties.FunctionName === 'eventlake-prod-transform');
    assert.equal(fn.Properties.Environment.Variables.EVENTLAKE_METRICS_NAMESPACE, TRANSFORM_METRICS_NAMESPACE);
    // Without the variable (eventlake invoke, replay) the transform emits into the same namespace.
    const handlerRs = fs.readFileSync(path.join(WORKSPACE_DIR, 'transform', 'src', 'handler.rs'), 'utf8');
    assert.match(handlerRs, new RegExp(`metrics_namespace: "${TRANSFORM_METRICS_NAMESPACE}"\\.into\\(\\)`), 'the transform\'s default namespace');
  });

  it('alarms on freshness after the S3 buffer interval plus 15 minutes', () => {
    assert.equal(alarms()['eventlake-prod-delivery-freshness'].Threshold, 900 + 900);
    assert.equal(alarms(dev())['eventlake-dev-delivery-freshness'].Threshold, 60 + 900);
  });

  it('sends alarms to an encrypted topic, and e-mails it when configured', () => {
    prod().hasResourceProperties('AWS::SNS::Topic', { TopicName: 'eventlake-prod-alarms', KmsMasterKeyId: Match.anyValue() });
    prod().resourceCountIs('AWS::SNS::Subscription', 0);
    template('staging', { alarmEmail: 'oncall@example.com' }).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('has a dashboard with the same signals', () => {
    const body = JSON.stringify(only(prod(), 'AWS::CloudWatch::Dashboard').props.DashboardBody);
    for (const metric of ['DataFreshness', 'IteratorAgeMilliseconds', 'RecordsProcessingFailed', 'FailedConversion.Records', 'Throttles']) {
      assert.ok(body.includes(metric), metric);
    }
  });
});

describe('outputs', () => {
  it('exports the stream, bucket and workgroup', () => {
    const outputs = prod().toJSON().Outputs;
    for (const name of ['StreamName', 'LakeBucketName', 'WorkGroupName', 'DeliveryStreamName', 'GlueDatabase']) {
      assert.ok(outputs[name], name);
      assert.equal(outputs[name].Export.Name, `eventlake-prod-${name}`);
    }
  });
});

describe('template size', () => {
  // CloudFormation takes a template of at most 460,800 bytes from S3 (where `cdk deploy` puts
  // it): "Template body size in an Amazon S3 object", AWS CloudFormation quotas,
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
  // (newer pages may give more; the older, smaller figure is the one held here). The Athena
  // layer carries every generated view, field_drift (~95 KB) among them.
  const MAX_TEMPLATE_BYTES = 460_800;

  it('every stage stays under CloudFormation\'s limit, with 30 % of it to spare', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      // As `cdk synth` writes it (indented by one space), the file `cdk deploy` uploads.
      const bytes = Buffer.byteLength(JSON.stringify(template(stage).toJSON(), null, 1));
      assert.ok(bytes < MAX_TEMPLATE_BYTES * 0.7, `${stage}: ${bytes} bytes`);
    }
  });
});
