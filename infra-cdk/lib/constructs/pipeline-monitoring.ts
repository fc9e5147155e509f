import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * The transform's EMF metric names this stack watches (`transform/src/telemetry.rs`, module
 * `metric`; a test reads them from there).
 */
export const TRANSFORM_METRIC = {
  recordsOk: 'RecordsOk',
  recordsDropped: 'RecordsDropped',
  recordsFailed: 'RecordsProcessingFailed',
  recordsFieldDrift: 'RecordsFieldDrift',
} as const;

/**
 * The transform's `Reason` code for an event dated outside the lake window
 * (`RecordError::OutsideLakeWindow` in `transform/src/error.rs`; a test reads it from there).
 */
export const OUTSIDE_LAKE_WINDOW_REASON = 'created_at_outside_lake_window';

/** Props of {@link PipelineMonitoring}. */
export interface PipelineMonitoringProps {
  /** Name prefix of the alarms, topic and dashboard. */
  readonly namePrefix: string;
  /** The Kinesis stream. */
  readonly stream: kinesis.IStream;
  /** The Firehose delivery stream. */
  readonly deliveryStream: firehose.IDeliveryStream;
  /** The transform Lambda. */
  readonly transform: lambda.IFunction;
  /** The transform's timeout (for the duration alarm). */
  readonly transformTimeout: Duration;
  /** CloudWatch namespace of the transform's EMF metrics. */
  readonly transformMetricsNamespace: string;
  /** Alarm when the oldest record not yet in S3 is older than this. @default 30 minutes */
  readonly freshnessThreshold?: Duration;
  /** Alarm when the stream's oldest unread record is older than this. @default 30 minutes */
  readonly iteratorAgeThreshold?: Duration;
  /** E-mail address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
}

/**
 * Alarms on every signal that means data is late, lost to errors, or about to be: delivery
 * freshness, S3 delivery and Lambda processing failures, Parquet conversion failures, records
 * the transform rejected, Lambda errors/throttles/slow runs, Kinesis iterator age and write
 * throttling. All alarms notify one SNS topic (encrypted; optional e-mail subscription), and a
 * dashboard shows the same signals.
 */
export class PipelineMonitoring extends Construct {
  /** Topic every alarm (and its recovery) is sent to. */
  readonly topic: sns.Topic;
  /** The alarms, by short name. */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const five = Duration.minutes(5);
    const streamName = props.deliveryStream.deliveryStreamName;

    // CloudWatch must be allowed to use the key to publish to an encrypted topic: the
    // AWS-managed SNS key does not allow that, so the topic has its own key.
    const key = new kms.Key(this, 'TopicKey', {
      description: `${props.namePrefix}: encrypts the alarm topic`,
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `${props.namePrefix}-alarms`,
      displayName: `eventlake ${props.namePrefix} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new actions.SnsAction(this.topic);

    // Alarms use the plain metrics; the dashboard adds labels (a labelled metric would make
    // the alarm a metric-math alarm).
    const labels = new Map<cloudwatch.Metric, string>();
    const firehoseMetric = (metricName: string, statistic: string, label: string) => {
      const metric = props.deliveryStream.metric(metricName, { statistic, period: five });
      labels.set(metric, label);
      return metric;
    };
    const transformMetric = (metricName: string, label: string, reason?: string) => {
      const metric = new cloudwatch.Metric({
        namespace: props.transformMetricsNamespace,
        metricName,
        dimensionsMap: reason === undefined ? { DeliveryStream: streamName } : { DeliveryStream: streamName, Reason: reason },
        statistic: 'Sum',
        period: five,
      });
      labels.set(metric, label);
      return metric;
    };

    const m = {
      freshness: firehoseMetric('DeliveryToS3.DataFreshness', 'Maximum', 'Oldest record not yet in S3 (s)'),
      s3Success: firehoseMetric('DeliveryToS3.Success', 'Average', 'S3 delivery success ratio'),
      processingSuccess: firehoseMetric('ExecuteProcessing.Success', 'Average', 'Transform invocation success ratio'),
      conversionFailed: firehoseMetric('FailedConversion.Records', 'Sum', 'Records failing Parquet conversion'),
      conversionOk: firehoseMetric('SucceedConversion.Records', 'Sum', 'Records converted to Parquet'),
      partitionsExceeded: firehoseMetric('PartitionCountExceeded', 'Maximum', 'Active partition limit exceeded'),
      partitions: firehoseMetric('PartitionCount', 'Maximum', 'Active partitions'),
      incoming: props.deliveryStream.metricIncomingRecords({ statistic: 'Sum', period: five }),
      recordsOk: transformMetric(TRANSFORM_METRIC.recordsOk, 'Transform: Ok'),
      recordsDropped: transformMetric(TRANSFORM_METRIC.recordsDropped, 'Transform: Dropped (duplicates)'),
      recordsFailed: transformMetric(TRANSFORM_METRIC.recordsFailed, 'Transform: ProcessingFailed'),
      fieldDrift: transformMetric(TRANSFORM_METRIC.recordsFieldDrift, 'Transform: catalog fields in another JSON kind'),
      outsideWindow: transformMetric(TRANSFORM_METRIC.recordsFailed, 'Transform: dated outside the lake window', OUTSIDE_LAKE_WINDOW_REASON),
      lambdaErrors: props.transform.metricErrors({ statistic: 'Sum', period: five }),
      lambdaThrottles: props.transform.metricThrottles({ statistic: 'Sum', period: five }),
      lambdaDuration: props.transform.metricDuration({ statistic: 'p99', period: five }),
      iteratorAge: props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: five }),
      writeThrottled: props.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: five }),
      streamIncoming: props.stream.metricIncomingRecords({ statistic: 'Sum', period: five }),
    };

    const alarm = (
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      comparisonOperator: cloudwatch.ComparisonOperator,
      description: string,
    ) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmName: `${props.namePrefix}-${name}`,
        alarmDescription: `${description} Runbook: docs/operations.md#monitor-the-alarms-and-what-to-do`,
        metric,
        threshold,
        comparisonOperator,
        evaluationPeriods: 1,
        // No data means no traffic (or no failures), not an outage; freshness has its own data.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      this.alarms[name] = a;
      return a;
    };
    const GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;

    const freshness = props.freshnessThreshold ?? Duration.minutes(30);
    alarm('delivery-freshness', m.freshness, freshness.toSeconds(), GT,
      `Records wait more than ${freshness.toHumanString()} to reach S3: Firehose is behind or failing.`);
    alarm('delivery-failures', m.s3Success, 1, LT, 'Firehose failed to write to S3 (it retries, then writes to errors/).');
    alarm('processing-failures', m.processingSuccess, 1, LT,
      'Firehose failed to invoke the transform; after retries the batch goes to errors/processing-failed/.');
    alarm('conversion-failures', m.conversionFailed, 0, GT,
      'Records failed Parquet conversion against the Glue table: see errors/format-conversion-failed/.');
    alarm('partition-limit', m.partitionsExceeded, 0, GT,
      'Firehose exceeded its active partition limit: records go to errors/ until the limit is raised.');
    alarm('records-rejected', m.recordsFailed, 0, GT,
      'The transform rejected records (ProcessingFailed): reasons in the transform log and errors/processing-failed/.');
    alarm('records-outside-lake-window', m.outsideWindow, 0, GT,
      "Events dated outside the lake's date range (Athena could never show them) were rejected: a producer clock or unit is off, " +
        'or lakeDateRange needs widening; they wait under errors/processing-failed/ for a re-drive.');
    alarm('field-drift', m.fieldDrift, 0, GT,
      'Producers send catalog fields in another JSON kind than the catalog says (delivered, but the typed views may read them as NULL): ' +
        'the transform log names event, field, expected and received kind; decide: fix the producer or change the catalog.');
    alarm('transform-errors', m.lambdaErrors, 0, GT, 'The transform Lambda failed invocations (Firehose retries them).');
    alarm('transform-throttles', m.lambdaThrottles, 0, GT, 'The transform Lambda was throttled (check account concurrency).');
    alarm('transform-duration', m.lambdaDuration, props.transformTimeout.toMilliseconds() * 0.8, GT,
      'The transform p99 duration is above 80% of its timeout.');
    const iteratorAge = props.iteratorAgeThreshold ?? Duration.minutes(30);
    alarm('stream-iterator-age', m.iteratorAge, iteratorAge.toMilliseconds(), GT,
      `Firehose reads the stream more than ${iteratorAge.toHumanString()} behind: records expire at the stream's retention.`);
    alarm('stream-write-throttles', m.writeThrottled, 0, GT,
      'Producers are throttled on the stream: add shards or switch to on-demand.');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${props.namePrefix}-pipeline`,
      defaultInterval: Duration.hours(3),
    });
    const labelled = (metrics: cloudwatch.Metric[]) =>
      metrics.map((metric) => (labels.has(metric) ? metric.with({ label: labels.get(metric) }) : metric));
    const graph = (title: string, left: cloudwatch.Metric[], right: cloudwatch.Metric[] = []) =>
      new cloudwatch.GraphWidget({ title, left: labelled(left), right: labelled(right), width: 8, height: 6 });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      graph('Kinesis: records in, throttles', [m.streamIncoming], [m.writeThrottled]),
      graph('Kinesis: iterator age (ms)', [m.iteratorAge]),
      graph('Firehose: freshness (s)', [m.freshness]),
    );
    this.dashboard.addWidgets(
      graph('Transform: records by result', [m.recordsOk, m.recordsDropped, m.recordsFailed], [m.outsideWindow, m.fieldDrift]),
      graph('Transform: errors, throttles', [m.lambdaErrors, m.lambdaThrottles]),
      graph('Transform: p99 duration (ms)', [m.lambdaDuration]),
    );
    this.dashboard.addWidgets(
      graph('Firehose: success ratios', [m.s3Success, m.processingSuccess]),
      graph('Firehose: Parquet conversion', [m.conversionOk], [m.conversionFailed]),
      graph('Firehose: active partitions', [m.partitions], [m.partitionsExceeded, m.incoming]),
    );
  }

  /** Shows more alarms (e.g. the curated-table job's) on the dashboard, in a row titled `title`. */
  watch(title: string, alarms: cloudwatch.IAlarm[]): void {
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title, alarms, width: 24, height: 3 }));
  }
}
