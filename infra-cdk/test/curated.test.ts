import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_PARTITIONS_PER_WRITE,
  MAX_QUERY_BYTES,
  createCuratedTable,
  curatedWrites,
  mergeIntoCurated,
  optimizeCurated,
  partitionsOf,
  slotsOf,
  typesFilter,
} from '../lib/curated-sql';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CuratedCompaction } from '../lib/constructs/curated-compaction';
import { GLUE_SCHEMA_DIR, loadLakeSchema, type TypedColumn } from '../lib/schema';
import { only, template } from './helpers';

const schema = loadLakeSchema();

/** The state machine's definition as text, with CloudFormation joins flattened. */
function definition(t = template('prod')): string {
  const d = only(t, 'AWS::StepFunctions::StateMachine').props.DefinitionString;
  const parts: unknown[] = d['Fn::Join'][1];
  return parts.map((p) => (typeof p === 'string' ? p : `<${JSON.stringify(p)}>`)).join('');
}

/** The states of the definition (tokens replaced by placeholders). */
function states(t = template('prod')): Record<string, any> {
  return JSON.parse(definition(t).replace(/<\{[^>]*\}>/g, 'TOKEN')).States;
}

describe('curated table job (Step Functions + Athena)', () => {
  it('checks its input, then creates the table, merges and optimizes write by write, remakes the typed views, and vacuums', () => {
    const s = states();
    assert.equal(s.CheckInput.Type, 'Choice');
    assert.equal(s.CheckInput.Default, 'InvalidDate');
    assert.equal(s.CheckInput.Choices[1].Next, 'Day', 'a run without backfill');
    assert.equal(s.CheckInput.Choices[0].Next, 'BackfillDay', 'a run with "backfill": true');
    const order = ['Day', 'Writes', 'CreateTable', 'EachWrite', 'RemakeViews', 'Vacuum'];
    for (let i = 0; i + 1 < order.length; i++) {
      assert.equal(s[order[i]].Next, order[i + 1], `${order[i]} → ${order[i + 1]}`);
    }
    assert.equal(s.Vacuum.End, true);
    assert.equal(s.EachWrite.Type, 'Map');
    assert.equal(s.EachWrite.MaxConcurrency, 1, 'one Iceberg commit at a time');
    assert.equal(s.EachWrite.ItemsPath, '$.writes');
    const inner = s.EachWrite.ItemProcessor.States;
    assert.equal(s.EachWrite.ItemProcessor.StartAt, 'Merge');
    assert.equal(inner.Merge.Next, 'Backfill');
    assert.equal(inner.Backfill.Default, 'Optimize', 'a daily run merges and optimizes');
    assert.equal(inner.Optimize.End, true);
    assert.equal(s.BackfillDay.Next, 'Writes');
    assert.deepEqual(s.Day.Parameters.backfill, false);
    assert.deepEqual(s.BackfillDay.Parameters.backfill, true);
    for (const [step, state] of [['CreateTable', s.CreateTable], ['Merge', inner.Merge], ['Optimize', inner.Optimize], ['Vacuum', s.Vacuum]]) {
      assert.match(state.Resource, /:states:::athena:startQueryExecution\.sync$/, `${step} waits for its query`);
      assert.equal(state.Parameters.WorkGroup, 'eventlake-prod');
      assert.deepEqual(state.Parameters.QueryExecutionContext, { Database: 'eventlake' });
    }
  });

  it("remakes the typed views after the writes through the Athena layer's handler, with the layer's own properties", () => {
    const t = template('prod');
    const remake = states(t).RemakeViews;
    assert.match(remake.Resource, /:states:::lambda:invoke$/);
    assert.equal(remake.ResultPath, null, 'the state goes on unchanged');
    const payload = remake.Parameters.Payload;
    assert.equal(payload.RequestType, 'Refresh');
    const layer = only(t, 'Custom::EventlakeAthenaLayer').props;
    assert.equal(layer.CuratedDaysFrom, 'events_curated');
    assert.equal(payload.ResourceProperties.CuratedDaysFrom, 'events_curated');
    assert.deepEqual(payload.ResourceProperties.Statements, layer.Statements, 'the same statements as the deploy');
    const typed = layer.Statements.filter((d: { curatedDays?: boolean }) => d.curatedDays === true).map((d: { name: string }) => d.name);
    assert.equal(typed.length, schema.namedQueries.filter((q) => q.kind === 'view' && q.sql.includes("'eventlake:curated-days:")).length);
    assert.ok(typed.includes('payment_order_completed') && !typed.includes('events_unique') && !typed.includes('field_drift'));
    // The job's role may invoke the layer's handler, and the handler read query results.
    const fnName = JSON.stringify(remake.Parameters.FunctionName);
    assert.ok(fnName.includes('TOKEN') || fnName.includes('athena-layer'), fnName);
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    assert.match(policies, /lambda:InvokeFunction/);
    assert.match(policies, /athena:GetQueryResults/);
  });

  it('writes each day of the window on its own: at most 100 partitions per write, every day and type once', () => {
    const s = states();
    // prod's look-back is the default, 2: three writes, one per day, all types in each.
    assert.deepEqual(s.Writes.Result, [0, 1, 2].map((d) => ({ offset: String(d), types: '' })));
    assert.deepEqual(s.EachWrite.ItemSelector, {
      'day.$': '$.day',
      'backfill.$': '$.backfill',
      'offset.$': '$$.Map.Item.Value.offset',
      'types.$': '$$.Map.Item.Value.types',
    });
    // Any allowed look-back, with the catalog's types and with a catalog of 250 types.
    const many = Array.from({ length: 250 }, (_, i) => `type_${String(i).padStart(3, '0')}`);
    for (const types of [schema.eventTypes, many]) {
      for (let lookback = 0; lookback <= 31; lookback++) {
        const writes = curatedWrites(types, lookback);
        assert.ok(writes.every((w) => partitionsOf(w) <= MAX_PARTITIONS_PER_WRITE), `look-back ${lookback}`);
        const covered = writes.flatMap((w) => w.eventTypes.map((t) => `${w.dayOffset} ${t}`)).sort();
        const expected = Array.from({ length: lookback + 1 }, (_, d) => types.map((t) => `${d} ${t}`)).flat().sort();
        assert.deepEqual(covered, expected, 'every (day, type) partition exactly once');
      }
    }
    assert.equal(curatedWrites(many, 0).length, 3, '250 types: groups of 100, 100 and 50');
    assert.equal(typesFilter(schema.table, curatedWrites(many, 0)[2]), ` AND event_type IN (${many.slice(200).map((t) => `'${t}'`).join(', ')})`);
    assert.equal(MAX_PARTITIONS_PER_WRITE, 100);
  });

  it('numbers a date\'s rows over every type before taking a group\'s types, so the kept row is the same in any grouping', () => {
    const sql = mergeIntoCurated(schema.table, schema.typedColumns, 'eventlake');
    const numbered = sql.indexOf('AS row_in_key');
    const filtered = sql.indexOf('WHERE row_in_key = 1{types}');
    assert.ok(numbered > 0 && filtered > numbered, sql);
    assert.match(sql, /FROM eventlake\.events\n {4}WHERE created_date = CAST\(date '\{day\}' - INTERVAL '\{offset\}' DAY AS varchar\)\n/);
  });

  it('creates an Iceberg table with the columns of glue-schema/table.json, the typed columns, then the partition keys', () => {
    const sql: string = states().CreateTable.Parameters.QueryString;
    assert.match(sql, /^CREATE TABLE IF NOT EXISTS eventlake\.events_curated \(/);
    const declared = [...sql.matchAll(/^ {2}`(\w+)` ([\w<>(),]+) COMMENT/gm)].map((m) => [m[1], m[2]]);
    const expected = [...schema.table.columns, ...schema.typedColumns, ...schema.table.partitionKeys].map((c) => [c.name, c.type]);
    assert.deepEqual(declared, expected);
    assert.equal(schema.typedColumns.length, 97, "one typed column per field name of today's catalog");
    assert.ok(declared.some(([n]) => n === 'percent'), 'a DDL reserved word, backquoted');
    assert.match(sql, /PARTITIONED BY \(event_type, created_date\)/);
    assert.match(sql, /LOCATION 's3:\/\/TOKEN\/curated\/'/);
    assert.match(sql, /'table_type' = 'ICEBERG'/);
  });

  it('merges with WHEN NOT MATCHED THEN INSERT only, keyed like compact and events_unique, one date per write', () => {
    const inner = states().EachWrite.ItemProcessor.States;
    const merge: string = inner.Merge.Parameters['QueryString.$'];
    assert.match(merge, /^States\.Format\('MERGE INTO eventlake\.events_curated AS t/);
    assert.match(merge, /WHEN NOT MATCHED THEN INSERT/);
    assert.doesNotMatch(merge, /WHEN MATCHED/, 'curated rows are never changed');
    // The very window events_unique uses (glue-schema/athena/views/events_unique.sql).
    const unique = fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'views', 'events_unique.sql'), 'utf8');
    const window = /row_number\(\) OVER \((PARTITION BY .*)\) AS row_in_key/.exec(unique)![1];
    assert.ok(merge.includes(window), `MERGE keys rows like events_unique: ${window}`);
    assert.doesNotMatch(merge, /t\.event_type = s\.event_type/, 'event_type is not part of the key');
    assert.match(merge, /lower\(t\.event_uuid\) = lower\(s\.event_uuid\) AND t\.created_at = s\.created_at/);
    assert.match(merge, /INTERVAL \\'\{\}\\' DAY/);
    assert.match(merge, /', \$\.day, \$\.offset, \$\.types, \$\.day, \$\.offset\)$/, 'one argument per slot, in order');
    const optimize: string = inner.Optimize.Parameters['QueryString.$'];
    assert.match(optimize, /OPTIMIZE eventlake\.events_curated REWRITE DATA USING BIN_PACK WHERE created_date = CAST\(date \\'\{\}\\' - INTERVAL \\'\{\}\\' DAY AS varchar\)\{\}'/);
    assert.match(optimize, /', \$\.day, \$\.offset, \$\.types\)$/);
    assert.equal(states().Vacuum.Parameters.QueryString, 'VACUUM eventlake.events_curated');
  });

  it('bounds the target by the write\'s date with constants, so Athena prunes the curated table', () => {
    const sql = mergeIntoCurated(schema.table, schema.typedColumns, 'eventlake');
    const on = sql.slice(sql.indexOf('\nON '), sql.indexOf('\nWHEN'));
    assert.match(on, /AND t\.created_date = CAST\(date '\{day\}' - INTERVAL '\{offset\}' DAY AS varchar\)$/);
    assert.deepEqual(slotsOf(sql).slots, ['day', 'offset', 'types', 'day', 'offset']);
    assert.deepEqual(slotsOf(optimizeCurated(schema.table, 'eventlake')).slots, ['day', 'offset', 'types']);
  });

    it('may stop the queries it starts, as AWS documents for .sync Athena tasks', () => {
    const t = template('prod');
    const smRole = only(t, 'AWS::StepFunctions::StateMachine').props.RoleArn['Fn::GetAtt'][0];
    const statements = (Object.values(t.findResources('AWS::IAM::Policy')) as any[])
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === smRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const stop = statements.find((s: any) => [s.Action].flat().includes('athena:stopQueryExecution'));
    assert.ok(stop, 'athena:stopQueryExecution granted');
    assert.match(JSON.stringify(stop.Resource), /workgroup\/eventlake-prod/);
  });

  it('takes the look-back window from the stage', () => {
    const writes = states(template('staging', { curatedLookbackDays: 7 })).Writes.Result;
    assert.deepEqual(writes.map((w: { offset: string }) => w.offset), ['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it('refuses a date that could break out of the SQL literal', () => {
    for (const choice of states().CheckInput.Choices) {
      const valid = choice.Next === 'Day' ? choice.And : choice.And[0].And;
      assert.deepEqual(valid[2], { Not: { Variable: '$.date', StringMatches: "*'*" } }, choice.Next);
    }
  });

  it('runs daily from EventBridge Scheduler, passing the scheduled time', () => {
    const schedule = only(template('prod'), 'AWS::Scheduler::Schedule').props;
    assert.equal(schedule.ScheduleExpression, 'cron(30 1 * * ? *)');
    assert.deepEqual(JSON.parse(schedule.Target.Input), { date: '<aws.scheduler.scheduled-time>' });
    assert.equal(schedule.Target.RetryPolicy.MaximumRetryAttempts, 2);
  });

  it('logs, traces, and alarms to the topic when a run fails', () => {
    const sm = only(template('prod'), 'AWS::StepFunctions::StateMachine').props;
    assert.equal(sm.StateMachineName, 'eventlake-prod-curate');
    assert.equal(sm.LoggingConfiguration.Level, 'ALL');
    assert.equal(sm.TracingConfiguration.Enabled, true);
    const alarm = (Object.values(template('prod').findResources('AWS::CloudWatch::Alarm')) as any[]).find(
      (a) => a.Properties.AlarmName === 'eventlake-prod-curate-failed',
    );
    assert.ok(alarm);
    const metrics = alarm.Properties.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.MetricName).sort();
    assert.deepEqual(metrics, ['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    assert.equal(alarm.Properties.AlarmActions.length, 1);
    const dashboard = JSON.stringify(only(template('prod'), 'AWS::CloudWatch::Dashboard').props.DashboardBody);
    assert.ok(dashboard.includes('Curated table job'), 'the dashboard shows the job alarm');
  });

  it('builds its SQL from any table definition (no copy of the columns)', () => {
    const renamed = { ...schema.table, name: 'things', columns: [{ name: 'id', type: 'string', comment: "it's" }] };
    assert.match(createCuratedTable(renamed, [], 'db', 's3://b/curated/'), /CREATE TABLE IF NOT EXISTS db\.things_curated \(\n {2}`id` string COMMENT 'it''s',/);
    assert.match(mergeIntoCurated(renamed, [], 'db'), /INSERT \(id, event_type, created_date\)/);
  });

  it('keys and orders the merge by the duplicate rule of table.json (no copy of the rule)', () => {
    const rekeyed = { ...schema.table, duplicates: { key: [{ column: 'id', ignoreCase: true }, { column: 'at' }], keep: ['rank'] } };
    const sql = mergeIntoCurated(rekeyed, [], 'db');
    assert.match(sql, /row_number\(\) OVER \(PARTITION BY created_date, lower\(id\), at ORDER BY rank\) AS row_in_key/);
    assert.match(sql, /ON t\.created_date = s\.created_date AND lower\(t\.id\) = lower\(s\.id\) AND t\.at = s\.at AND /);
    assert.doesNotMatch(sql, /event_uuid\)/);
  });

  it('fills each typed column with the generated expression, the typed views\' reading, and inserts it by name', () => {
    const sql = mergeIntoCurated(schema.table, schema.typedColumns, 'eventlake');
    const amount = schema.typedColumns.find((c) => c.name === 'amount')!;
    assert.ok(sql.includes(`${amount.athena} AS "amount"`), 'the source computes the column from payload');
    // The expression reads the field exactly as the event's typed view does.
    const view = fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'views', 'payment_order_completed.sql'), 'utf8');
    const reading = /(TRY_CAST\(json_extract_scalar\(payload, '\$\.amount'\) AS DECIMAL\(12,2\)\)) AS "amount"/.exec(view)![1];
    assert.ok(amount.athena.endsWith(`THEN ${reading} END`), amount.athena);
    assert.ok(amount.athena.includes("'payment:order:completed'"));
    const insert = /INSERT \((.*)\)\nVALUES \((.*)\)$/.exec(sql)!;
    const names = insert[1].split(', ');
    assert.equal(names.length, schema.table.columns.length + schema.table.partitionKeys.length + schema.typedColumns.length);
    assert.deepEqual(insert[2].split(', '), names.map((n) => `s.${n}`));
    assert.ok(names.includes('"percent"'));
  });

  it('backfills typed columns write by write with the same expressions, when started with "backfill": true', () => {
    const s = states();
    const inner = s.EachWrite.ItemProcessor.States;
    assert.deepEqual(inner.Backfill.Choices, [{ Variable: '$.backfill', BooleanEquals: true, Next: 'SetTypedColumns' }]);
    assert.equal(inner.SetTypedColumns.Next, 'Optimize');
    const update: string = inner.SetTypedColumns.Parameters['QueryString.$'];
    assert.match(update, /^States\.Format\('UPDATE eventlake\.events_curated\nSET "achievement" = CASE WHEN/);
    for (const c of schema.typedColumns) {
      assert.ok(update.includes(`"${c.name}" = ${c.athena.replace(/'/g, "\\'")}`), `sets ${c.name} with the MERGE's expression`);
    }
    assert.match(update, /WHERE created_date = CAST\(date \\'\{\}\\' - INTERVAL \\'\{\}\\' DAY AS varchar\)\{\}'/);
    assert.deepEqual(s.CheckInput.Choices[0].And[1], { And: [{ Variable: '$.backfill', IsPresent: true }, { Variable: '$.backfill', BooleanEquals: true }] });
  });

  it('keeps every query under Athena\'s 262,144 bytes, checked at synth', () => {
    const sql = mergeIntoCurated(schema.table, schema.typedColumns, 'eventlake');
    assert.ok(Buffer.byteLength(sql) < MAX_QUERY_BYTES / 4, `MERGE is ${Buffer.byteLength(sql)} bytes`);
    const huge = [{ name: 'big', type: 'string', comment: 'c', events: [], athena: `'${'x'.repeat(MAX_QUERY_BYTES)}'` }];
    const job = (typedColumns: TypedColumn[]) => {
      const stack = new Stack(new App());
      new CuratedCompaction(stack, 'Curated', {
        namePrefix: 't',
        tableDefinition: schema.table,
        eventTypes: schema.eventTypes,
        typedColumns,
        databaseName: 'eventlake',
        workGroupName: 't',
        lakeBucket: new s3.Bucket(stack, 'Lake'),
        queryResultsBucket: new s3.Bucket(stack, 'Results'),
      });
    };
    assert.doesNotThrow(() => job([...schema.typedColumns]));
    assert.throws(() => job(huge), /a query is \d+ bytes, over Athena's 262144/);
  });
});
