import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  MAX_PARTITIONS_PER_WRITE,
  backfillCurated,
  checkQuerySize,
  createCuratedTable,
  curatedTableName,
  fillSlots,
  curatedWrites,
  mergeIntoCurated,
  optimizeCurated,
  partitionsOf,
  slotsOf,
  typesFilter,
  vacuumCurated,
} from '../curated-sql';
import type { TableDefinition, TypedColumn } from '../schema';
import { resourceLogicalId } from './logical-id';
import { DEFAULTS, retentionDays } from '../config';

/** Props of {@link CuratedCompaction}. */
export interface CuratedCompactionProps {
  /** Name prefix of the state machine, schedule and alarm. */
  readonly namePrefix: string;
  /** The table definition from `glue-schema/`. */
  readonly tableDefinition: TableDefinition;
  /** The catalog's event types (the raw table's `event_type` projection values). */
  readonly eventTypes: readonly string[];
  /** The curated table's typed columns (`glue-schema/athena/curated-columns.json`). @default none: the table's columns only */
  readonly typedColumns?: readonly TypedColumn[];
  /** Glue database of the raw and the curated table. */
  readonly databaseName: string;
  /** Athena workgroup the queries run in (its result location and encryption apply). */
  readonly workGroupName: string;
  /** The lake bucket (`events/` read, `curated/` written). */
  readonly lakeBucket: s3.IBucket;
  /** The workgroup's query-results bucket. */
  readonly queryResultsBucket: s3.IBucket;
  /** Days before the run's day merged again, for late events. @default `DEFAULTS.curatedLookbackDays` (config.ts) */
  readonly lookbackDays?: number;
  /** When the job runs (UTC). @default every day at 01:30 */
  readonly schedule?: scheduler.ScheduleExpression;
  /** Topic the failure alarm notifies. @default no notification */
  readonly alarmTopic?: sns.ITopic;
  /** Log retention of the state machine's log group. @default `DEFAULTS.logRetentionDays` (config.ts) */
  readonly logRetention?: logs.RetentionDays;
  /** Keep the log group when the stack is deleted. @default `DEFAULTS.retainData` (config.ts) */
  readonly retainLogs?: boolean;
  /**
   * After the writes, the job invokes `handler` with `event`: the Athena layer's refresh, which
   * makes every typed view again with the curated days now held (`AthenaLayer.refreshEvent`).
   * @default none: the views keep the days of their last making
   */
  readonly remakeViews?: { readonly handler: lambda.IFunction; readonly event: Record<string, unknown> };
}

/**
 * The curated table: no duplicates at rest, few large files. A daily EventBridge Scheduler
 * schedule starts a Step Functions state machine that runs Athena queries, one after the
 * other: create the Iceberg table if needed; then for each write (one date of the window,
 * at most {@link MAX_PARTITIONS_PER_WRITE} event types: Athena's limit per write) MERGE its
 * raw rows into it (`WHEN NOT MATCHED THEN INSERT`) and OPTIMIZE (bin-pack) its files; then
 * make the typed views again with the curated days now held (the Athena layer's refresh); then
 * VACUUM old snapshots. Start it by hand with `{"date":"yyyy-MM-dd"}` to backfill any day: every step
 * is idempotent. `{"date":"yyyy-MM-dd","backfill":true}` also sets every typed column of the
 * window's curated rows again from `payload` (after a catalog change added a column: the deploy
 * adds it, empty, to the table). No servers; a failed run raises an alarm.
 */
export class CuratedCompaction extends Construct {
  /** The state machine. */
  readonly stateMachine: sfn.StateMachine;
  /** The daily schedule. */
  readonly schedule: scheduler.Schedule;
  /** Alarm on failed, timed-out or aborted runs. */
  readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CuratedCompactionProps) {
    super(scope, id);
    const lookback = props.lookbackDays ?? DEFAULTS.curatedLookbackDays;
    if (!Number.isInteger(lookback) || lookback < 0 || lookback > 31) {
      throw new Error(`CuratedCompaction: lookbackDays must be an integer in 0..31, got ${lookback}`);
    }
    const table = props.tableDefinition;
    const db = props.databaseName;
    const curatedPrefix = table.storage.curatedPrefix;
    const location = `s3://${props.lakeBucket.bucketName}/${curatedPrefix}`;

    // Each write touches one date and at most MAX_PARTITIONS_PER_WRITE event types: checked
    // here, at synth, for the catalog and look-back being deployed.
    const writes = curatedWrites(props.eventTypes, lookback);
    const over = writes.find((w) => partitionsOf(w) > MAX_PARTITIONS_PER_WRITE);
    if (over) {
      throw new Error(`CuratedCompaction: a write would touch ${partitionsOf(over)} partitions (Athena allows ${MAX_PARTITIONS_PER_WRITE})`);
    }

    const typed = props.typedColumns ?? [];
    const merge = mergeIntoCurated(table, typed, db);
    const optimize = optimizeCurated(table, db);
    const backfill = typed.length > 0 ? backfillCurated(table, typed, db) : undefined;
    const create = createCuratedTable(table, typed, db, location);
    // Every query as Athena gets it, its slots filled for each write, under Athena's size limit.
    for (const sql of [create, vacuumCurated(table, db)]) {
      checkQuerySize('CuratedCompaction', 'a query', sql);
    }
    for (const w of writes) {
      for (const sql of [merge, optimize, backfill ?? '']) {
        checkQuerySize('CuratedCompaction', 'a query', fillSlots(sql, { day: '2026-12-31', offset: String(w.dayOffset), types: typesFilter(table, w) }));
      }
    }

    // A query whose SQL slots ({day}, {offset}, {types}) are filled from the state's input.
    const query = (id: string, sql: string) => {
      const { template, slots } = slotsOf(sql);
      return new tasks.AthenaStartQueryExecution(this, id, {
        queryString: slots.length > 0 ? sfn.JsonPath.format(template, ...slots.map((slot) => sfn.JsonPath.stringAt(`$.${slot}`))) : template,
        workGroup: props.workGroupName,
        queryExecutionContext: { databaseName: db },
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(Duration.hours(1)),
      }).addRetry({ errors: ['Athena.TooManyRequestsException', 'Athena.InternalServerException'], maxAttempts: 5, backoffRate: 2 });
    };

    const invalid = new sfn.Fail(this, 'InvalidDate', {
      error: 'InvalidInput',
      cause: 'Start with {"date":"yyyy-MM-dd"} or {"date":"yyyy-MM-dd","backfill":true} (a schedule passes its time).',
    });
    const valid = sfn.Condition.and(
      sfn.Condition.isPresent('$.date'),
      sfn.Condition.stringMatches('$.date', '*-*-*'),
      sfn.Condition.not(sfn.Condition.stringMatches('$.date', "*'*")),
    );
    // The day (and whether to backfill), from the input: a schedule's time
    // (2026-11-25T01:30:00Z), or a date started by hand, with `"backfill": true` or not.
    const day = (id: string, backfilled: boolean) =>
      new sfn.Pass(this, id, {
        parameters: { 'day.$': "States.ArrayGetItem(States.StringSplit($.date, 'T'), 0)", backfill: backfilled },
      });
    // The writes, as the state machine's own data: the Map below runs them one after the
    // other (concurrent commits to one Iceberg table would conflict). Each iteration's input
    // is the run's day and mode (`$`, the Map's input) and the write (`$$.Map.Item.Value`), as
    // AWS documents ItemSelector: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html
    const plan = new sfn.Pass(this, 'Writes', {
      result: sfn.Result.fromArray(writes.map((w) => ({ offset: String(w.dayOffset), types: typesFilter(table, w) }))),
      resultPath: '$.writes',
    });
    const eachWrite = new sfn.Map(this, 'EachWrite', {
      itemsPath: '$.writes',
      itemSelector: {
        'day.$': '$.day',
        'backfill.$': '$.backfill',
        'offset.$': '$$.Map.Item.Value.offset',
        'types.$': '$$.Map.Item.Value.types',
      },
      maxConcurrency: 1,
      resultPath: sfn.JsonPath.DISCARD,
    });
    const optimizeWrite = query('Optimize', optimize);
    const write = query('Merge', merge);
    if (backfill) {
      const setTyped = query('SetTypedColumns', backfill);
      setTyped.next(optimizeWrite);
      write.next(new sfn.Choice(this, 'Backfill').when(sfn.Condition.booleanEquals('$.backfill', true), setTyped).otherwise(optimizeWrite));
    } else {
      write.next(optimizeWrite);
    }
    eachWrite.itemProcessor(write);
    const afterWrites: sfn.INextable & sfn.IChainable = props.remakeViews
      ? new tasks.LambdaInvoke(this, 'RemakeViews', {
          lambdaFunction: props.remakeViews.handler,
          payload: sfn.TaskInput.fromObject(props.remakeViews.event),
          resultPath: sfn.JsonPath.DISCARD,
          retryOnServiceExceptions: true,
          taskTimeout: sfn.Timeout.duration(Duration.minutes(15)),
        })
      : new sfn.Pass(this, 'ViewsKept');
    plan.next(query('CreateTable', create)).next(eachWrite).next(afterWrites);
    afterWrites.next(query('Vacuum', vacuumCurated(table, db)));
    const wantsBackfill = sfn.Condition.and(sfn.Condition.isPresent('$.backfill'), sfn.Condition.booleanEquals('$.backfill', true));
    const choice = new sfn.Choice(this, 'CheckInput');
    if (backfill) {
      choice.when(sfn.Condition.and(valid, wantsBackfill), day('BackfillDay', true).next(plan));
    }
    const definition = choice.when(valid, day('Day', false).next(plan)).otherwise(invalid);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.namePrefix}-curate`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: props.retainLogs ?? DEFAULTS.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `${props.namePrefix}-curate`,
      comment: `Merges ${db}.${table.name} into ${db}.${curatedTableName(table)} (dedup + compaction)`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(4),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      scheduleName: `${props.namePrefix}-curate`,
      description: `Daily merge into ${curatedTableName(table)} of the last ${lookback + 1} days`,
      schedule: props.schedule ?? scheduler.ScheduleExpression.cron({ minute: '30', hour: '1' }),
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ date: scheduler.ContextAttribute.scheduledTime }),
        retryAttempts: 2,
      }),
    });

    this.failureAlarm = new cloudwatch.Alarm(this, 'Failed', {
      alarmName: `${props.namePrefix}-curate-failed`,
      alarmDescription:
        'The curated-table job failed: start it again for the same date (it is idempotent). Runbook: docs/operations.md#monitor-the-alarms-and-what-to-do',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
          timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
          aborted: this.stateMachine.metricAborted({ statistic: 'Sum' }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      this.failureAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    }

    // AWS's policy for `startQueryExecution.sync` also allows athena:stopQueryExecution, which
    // Step Functions calls when the task times out or the execution is stopped
    // (https://docs.aws.amazon.com/step-functions/latest/dg/athena-iam.html); CDK's task omits it.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['athena:stopQueryExecution'],
        resources: [Stack.of(this).formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workGroupName })],
      }),
    );
    // The Athena task grants cover the workgroup's results; the queries also read the raw
    // table's files and write the curated table's.
    props.lakeBucket.grantRead(this.stateMachine, `${table.storage.eventsPrefix}*`);
    props.lakeBucket.grantReadWrite(this.stateMachine, `${curatedPrefix}*`);
    props.queryResultsBucket.grantReadWrite(this.stateMachine);
    const ack = (finding: string, reason: string) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`, reason });
    const s3Actions =
      'The grants of the lake and results buckets use CDK\'s action groups (s3:GetObject*, s3:List*, …), limited to ' +
      'events/ (read), curated/ (read/write) and the results bucket: Athena reads and writes objects named at run time.';
    Validations.of(this.stateMachine).acknowledge(
      ...['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*'].map((a) => ack(`Action::${a}`, s3Actions)),
      ack(`Resource::<${resourceLogicalId(props.lakeBucket)}.Arn>/${table.storage.eventsPrefix}*`, s3Actions),
      ack(`Resource::<${resourceLogicalId(props.lakeBucket)}.Arn>/${curatedPrefix}*`, s3Actions),
      ack(`Resource::<${resourceLogicalId(props.queryResultsBucket)}.Arn>/*`, s3Actions),
      ack(
        `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${db}/*`,
        'MERGE creates and updates the curated table and reads the raw one: Glue tables of this database only.',
      ),
      ack(
        `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:userDefinedFunction/${db}/*`,
        'Added by the AthenaStartQueryExecution task for the query database: its functions only.',
      ),
      ...(props.remakeViews
        ? [ack(`Resource::<${resourceLogicalId(props.remakeViews.handler)}.Arn>:*`, "CDK's LambdaInvoke task may invoke the Athena layer's handler and its versions.")]
        : []),
      ack(
        'Resource::*',
        'Added by the AthenaStartQueryExecution task (e.g. athena:GetDataCatalog / X-Ray) for actions without ' +
          'resource-level permissions.',
      ),
    );
  }
}
