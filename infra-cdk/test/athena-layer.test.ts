import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AthenaApi, type LayerEvent, onEvent, plan, type StatementSource } from '../lib/athena-layer/handler';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CURATED_DAYS_SLOT_PREFIX,
  digestOf,
  executionOrder,
  fillCuratedDays,
  type LayerStatement,
  statementText,
  withDependencies,
} from '../lib/athena-layer/statements';
import { GLUE_SCHEMA_DIR } from '../lib/schema';

/** An Athena that records what it is asked and answers from a script. */
class FakeAthena implements AthenaApi {
  readonly started: { sql: string; database: string; workGroup: string }[] = [];
  readonly polls = new Map<string, number>();
  /** States a query goes through before its last one, per statement text fragment. */
  constructor(
    private readonly script: (sql: string) => { states: string[]; reason?: string } = () => ({ states: ['SUCCEEDED'] }),
    private throttleFirst = 0,
  ) {}
  async startQuery(sql: string, database: string, workGroup: string): Promise<string> {
    if (this.throttleFirst > 0) {
      this.throttleFirst--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    }
    this.started.push({ sql, database, workGroup });
    return `q${this.started.length - 1}`;
  }
  /** Column names of the tables, as Glue would list them. */
  readonly tables = new Map<string, string[]>();
  async tableColumns(database: string, table: string): Promise<string[]> {
    const columns = this.tables.get(`${database}.${table}`);
    if (!columns) {
      throw Object.assign(new Error(`Table ${table} not found`), { name: 'EntityNotFoundException' });
    }
    return columns;
  }
  /** Result rows by query text fragment: the first fragment the query's SQL holds. */
  readonly results = new Map<string, (string | undefined)[][]>();
  async queryRows(id: string): Promise<(string | undefined)[][]> {
    const sql = this.started[Number(id.slice(1))].sql;
    return [...this.results].find(([fragment]) => sql.includes(fragment))?.[1] ?? [];
  }
  async queryState(id: string): Promise<{ state: string; reason?: string }> {
    const n = this.polls.get(id) ?? 0;
    this.polls.set(id, n + 1);
    const { states, reason } = this.script(this.started[Number(id.slice(1))].sql);
    return { state: states[Math.min(n, states.length - 1)], reason };
  }
}

const noSleep = { sleep: async () => {} };

const layer = withDependencies('eventlake', [
  { name: 'events_curated', kind: 'table', sql: 'CREATE TABLE IF NOT EXISTS eventlake.events_curated (x int)' },
  { name: 'events_unique', kind: 'view', sql: 'CREATE OR REPLACE VIEW eventlake.events_unique AS SELECT * FROM eventlake.events' },
  { name: 'page_viewed', kind: 'view', sql: 'CREATE OR REPLACE VIEW eventlake.page_viewed AS SELECT * FROM eventlake.events_unique' },
  { name: 'page_daily', kind: 'view', sql: 'CREATE OR REPLACE VIEW eventlake.page_daily AS SELECT * FROM eventlake.page_viewed' },
]);

/** The statements objects "uploaded" so far, by key, as the asset bucket would hold them. */
const objects = new Map<string, LayerStatement[]>();
const source: StatementSource = async (bucket, key) => {
  assert.equal(bucket, 'cdk-assets');
  return JSON.parse(JSON.stringify(objects.get(key)));
};

const props = (statements: LayerStatement[] = layer, database = 'eventlake', substitutions: Record<string, string> = {}) => {
  const key = `${digestOf({ name: '', kind: 'view', sql: JSON.stringify(statements), dependsOn: [] }).sha256}.json`;
  objects.set(key, statements);
  return {
    Database: database,
    SourceDatabase: 'eventlake',
    WorkGroup: 'eventlake-dev',
    Statements: statements.map(digestOf),
    StatementsObject: { Bucket: 'cdk-assets', Key: key },
    Substitutions: substitutions,
  };
};

const create: LayerEvent = { RequestType: 'Create', ResourceProperties: props() };

describe('Athena layer handler', () => {
  it('reads dependencies from the SQL and runs each statement after what it reads', async () => {
    assert.deepEqual(layer.find((s) => s.name === 'page_daily')?.dependsOn, ['page_viewed']);
    assert.deepEqual(layer.find((s) => s.name === 'events_unique')?.dependsOn, [], 'the raw table is not part of the layer');
    const athena = new FakeAthena();
    await onEvent(create, athena, source, { ...noSleep, concurrency: 8 });
    const order = athena.started.map((q) => /eventlake\.(\w+)/.exec(q.sql)![1]);
    assert.equal(order.length, 4);
    assert.ok(order.indexOf('events_unique') < order.indexOf('page_viewed'));
    assert.ok(order.indexOf('page_viewed') < order.indexOf('page_daily'));
    assert.deepEqual(executionOrder(layer).map((w) => w.map((s) => s.name)), [
      ['events_curated', 'events_unique'],
      ['page_viewed'],
      ['page_daily'],
    ]);
  });

  it('refuses a dependency cycle at synth time', () => {
    assert.throws(
      () =>
        withDependencies('db', [
          { name: 'a', kind: 'view', sql: 'SELECT * FROM db.b' },
          { name: 'b', kind: 'view', sql: 'SELECT * FROM db.a' },
        ]),
      /dependency cycle among a, b/,
    );
  });

  it('waits for every query to finish before the next wave starts', async () => {
    const athena = new FakeAthena(() => ({ states: ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'] }));
    const sleeps: number[] = [];
    await onEvent(create, athena, source, { sleep: async (ms) => void sleeps.push(ms) });
    for (const [id, n] of athena.polls) {
      assert.equal(n, 4, `${id} polled until it succeeded`);
    }
    assert.ok(sleeps.length >= 12 && sleeps.every((ms) => ms > 0 && ms <= 5_000), String(sleeps));
  });

  it("fails with Athena's message, and runs nothing that depends on the failed statement", async () => {
    const athena = new FakeAthena((sql) =>
      sql.includes('VIEW eventlake.page_viewed') ? { states: ['FAILED'], reason: "line 1:8: Column 'x' cannot be resolved" } : { states: ['SUCCEEDED'] },
    );
    await assert.rejects(onEvent(create, athena, source, noSleep), /page_viewed: Athena query q\d FAILED: line 1:8: Column 'x' cannot be resolved/);
    assert.ok(!athena.started.some((q) => q.sql.includes('page_daily')));
  });

  it('gives up when the Lambda is about to time out, naming the query', async () => {
    const athena = new FakeAthena(() => ({ states: ['RUNNING'] }));
    await assert.rejects(onEvent(create, athena, source, { ...noSleep, remainingMs: () => 5_000 }), /still RUNNING when the handler ran out of time/);
  });

  it('retries a throttled start', async () => {
    const athena = new FakeAthena(undefined, 3);
    await onEvent(create, athena, source, noSleep);
    assert.equal(athena.started.length, 4);
  });

  it('re-qualifies every name to the stage database and runs in its workgroup', async () => {
    const athena = new FakeAthena();
    await onEvent({ RequestType: 'Create', ResourceProperties: props(layer, 'eventlake_dev') }, athena, source, noSleep);
    for (const q of athena.started) {
      assert.equal(q.database, 'eventlake_dev');
      assert.equal(q.workGroup, 'eventlake-dev');
      assert.doesNotMatch(q.sql, /(?<!_)eventlake\./, q.sql);
    }
    assert.ok(athena.started.some((q) => q.sql.includes('FROM eventlake_dev.events_unique')));
  });

  it('on update runs only what changed, and drops views that left the layer', async () => {
    const same: LayerEvent = { RequestType: 'Update', ResourceProperties: props(), OldResourceProperties: props(), PhysicalResourceId: 'athena-layer:eventlake' };
    assert.deepEqual(plan(same), { run: [], drop: [] });
    const athena = new FakeAthena();
    const changed = layer
      .filter((s) => s.name !== 'page_daily')
      .map((s) => (s.name === 'page_viewed' ? { ...s, sql: `${s.sql} WHERE 1 = 1` } : s));
    const out = await onEvent({ ...same, ResourceProperties: props(changed) }, athena, source, noSleep);
    assert.deepEqual(
      athena.started.map((q) => q.sql),
      [`${layer[2].sql} WHERE 1 = 1`, 'DROP VIEW IF EXISTS eventlake.page_daily'],
    );
    assert.equal(out.PhysicalResourceId, 'athena-layer:eventlake');
    // A table that leaves the layer is never dropped: it holds data.
    assert.deepEqual(plan({ ...same, ResourceProperties: props(layer.filter((s) => s.kind === 'view')) }).drop, []);
  });

  it('runs everything again for a new database, under a new physical id', async () => {
    const athena = new FakeAthena();
    const out = await onEvent(
      { RequestType: 'Update', ResourceProperties: props(layer, 'lake_b'), OldResourceProperties: props(), PhysicalResourceId: 'athena-layer:eventlake' },
      athena,
      source,
      noSleep,
    );
    assert.equal(athena.started.length, 4);
    assert.equal(out.PhysicalResourceId, 'athena-layer:lake_b');
  });

  it('leaves everything alone on delete', async () => {
    const athena = new FakeAthena();
    const out = await onEvent({ RequestType: 'Delete', ResourceProperties: props(), PhysicalResourceId: 'athena-layer:eventlake' }, athena, source, noSleep);
    assert.equal(athena.started.length, 0);
    assert.equal(out.PhysicalResourceId, 'athena-layer:eventlake');
  });

  it('sends one statement without comments or the trailing semicolon', () => {
    assert.equal(statementText('-- generated\n-- note\nCREATE VIEW db.v AS\nSELECT 1;\n'), 'CREATE VIEW db.v AS\nSELECT 1');
  });

  it('adds the columns a growing table lacks after its CREATE, and nothing when it has them all', async () => {
    const columns = [
      { name: 'id', ddl: '`id` string' },
      { name: 'amount', ddl: "`amount` decimal(12,2) COMMENT 'typed'" },
      { name: 'percent', ddl: '`percent` int' },
    ];
    const statements = withDependencies('eventlake', [
      { name: 'events_curated', kind: 'table', sql: 'CREATE TABLE IF NOT EXISTS eventlake.events_curated (id string)', columns },
    ]);
    const athena = new FakeAthena();
    athena.tables.set('stage_db.events_curated', ['ID']);
    await onEvent({ RequestType: 'Create', ResourceProperties: props(statements, 'stage_db') }, athena, source, noSleep);
    assert.deepEqual(athena.started.map((q) => q.sql), [
      'CREATE TABLE IF NOT EXISTS stage_db.events_curated (id string)',
      "ALTER TABLE stage_db.events_curated ADD COLUMNS (`amount` decimal(12,2) COMMENT 'typed', `percent` int)",
    ]);
    const again = new FakeAthena();
    again.tables.set('stage_db.events_curated', ['id', 'amount', 'percent']);
    await onEvent({ RequestType: 'Create', ResourceProperties: props(statements, 'stage_db') }, again, source, noSleep);
    assert.equal(again.started.length, 1, 'a table with every column gets no ALTER');
  });

  it('reads the statements from their object, fills the placeholders, and refuses an object that is not the one deployed', async () => {
    const statements = withDependencies('eventlake', [
      { name: 'events_curated', kind: 'table', sql: "CREATE TABLE IF NOT EXISTS eventlake.events_curated (x int) LOCATION 's3://EVENTLAKE_BUCKET/curated/'" },
    ]);
    const athena = new FakeAthena();
    const p = props(statements, 'eventlake', { EVENTLAKE_BUCKET: 'lake-123' });
    await onEvent({ RequestType: 'Create', ResourceProperties: p }, athena, source, noSleep);
    assert.deepEqual(athena.started.map((q) => q.sql), ["CREATE TABLE IF NOT EXISTS eventlake.events_curated (x int) LOCATION 's3://lake-123/curated/'"]);
    // A new bucket name runs the statements again, though their text did not change.
    const moved = { RequestType: 'Update' as const, ResourceProperties: props(statements, 'eventlake', { EVENTLAKE_BUCKET: 'lake-456' }), OldResourceProperties: p };
    assert.deepEqual(plan(moved).run, ['events_curated']);
    // An object whose statement differs from the digest CloudFormation sent is refused.
    const tampered = { ...p, Statements: p.Statements.map((d) => ({ ...d, sha256: '0'.repeat(64) })) };
    await assert.rejects(
      onEvent({ RequestType: 'Create', ResourceProperties: tampered }, new FakeAthena(), source, noSleep),
      /statement events_curated is missing or is not the one deployed/,
    );
  });

  it('fills curated-days slots as the shared cases say (the Rust generator runs the same cases)', () => {
    const { cases } = JSON.parse(fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'curated-days-cases.json'), 'utf8'));
    assert.ok(cases.length >= 5);
    for (const c of cases) {
      const daysOf = (t: string) => (c.days[t] as string[] | undefined) ?? [];
      if (c.error !== undefined) {
        assert.throws(() => fillCuratedDays(c.sql, daysOf), (e: Error) => e.message.includes(c.error), c.name);
      } else {
        assert.equal(fillCuratedDays(c.sql, daysOf), c.expected, c.name);
      }
    }
    const athenaRs = fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'src', 'athena.rs'), 'utf8');
    assert.match(athenaRs, new RegExp(`pub const CURATED_DAYS_SLOT_PREFIX: &str = "${CURATED_DAYS_SLOT_PREFIX}";`));
  });

  const typedLayer = withDependencies('eventlake', [
    { name: 'events_curated', kind: 'table', sql: 'CREATE TABLE IF NOT EXISTS eventlake.events_curated (x int)' },
    { name: 'events_unique', kind: 'view', sql: 'CREATE OR REPLACE VIEW eventlake.events_unique AS SELECT * FROM eventlake.events' },
    {
      name: 'page_viewed',
      kind: 'view',
      sql:
        "CREATE OR REPLACE VIEW eventlake.page_viewed AS SELECT * FROM eventlake.events_curated WHERE created_date IN ('eventlake:curated-days:page') " +
        "UNION ALL SELECT * FROM eventlake.events WHERE created_date NOT IN ('eventlake:curated-days:page')",
    },
  ]);
  const typedProps = { ...props(typedLayer, 'stage_db'), CuratedDaysFrom: 'events_curated' };
  const daysQuery = 'SELECT DISTINCT event_type, created_date FROM stage_db.events_curated';

  it('writes the curated days into each typed view it runs, asked once of the curated table after its CREATE', async () => {
    const athena = new FakeAthena();
    athena.results.set(daysQuery, [
      ['event_type', 'created_date'],
      ['page', '2026-12-01'],
      ['cart', '2026-12-01'],
      ['page', '2026-11-30'],
    ]);
    await onEvent({ RequestType: 'Create', ResourceProperties: typedProps }, athena, source, noSleep);
    const sqls = athena.started.map((q) => q.sql);
    assert.equal(sqls.filter((q) => q === daysQuery).length, 1, 'one query for the days');
    assert.ok(sqls.indexOf(daysQuery) > sqls.indexOf('CREATE TABLE IF NOT EXISTS stage_db.events_curated (x int)'));
    const view = sqls.find((q) => q.includes('VIEW stage_db.page_viewed'))!;
    assert.match(view, /WHERE created_date IN \('2026-11-30', '2026-12-01'\) UNION ALL/);
    assert.match(view, /WHERE created_date NOT IN \('2026-11-30', '2026-12-01'\)$/);
    // A layer without CuratedDaysFrom leaves the slots: the view reads the raw table only.
    const plain = new FakeAthena();
    await onEvent({ RequestType: 'Create', ResourceProperties: props(typedLayer, 'stage_db') }, plain, source, noSleep);
    assert.ok(!plain.started.some((q) => q.sql === daysQuery));
    assert.ok(plain.started.some((q) => q.sql.includes(`'${CURATED_DAYS_SLOT_PREFIX}page'`)));
  });

  it('on refresh runs only the typed views again, with the days of now, and refuses a day that is not a date', async () => {
    const athena = new FakeAthena();
    athena.results.set(daysQuery, [['page', '2026-12-02']]);
    const out = await onEvent({ RequestType: 'Refresh', ResourceProperties: typedProps }, athena, source, noSleep);
    assert.deepEqual(athena.started.map((q) => q.sql.split(' AS ')[0]), [daysQuery.split(' AS ')[0], 'CREATE OR REPLACE VIEW stage_db.page_viewed']);
    assert.match(athena.started[1].sql, /IN \('2026-12-02'\)/);
    assert.equal(out.Data.Ran, '1');
    const bad = new FakeAthena();
    bad.results.set(daysQuery, [['page', "2026-12-02') OR (1=1"]]);
    await assert.rejects(onEvent({ RequestType: 'Refresh', ResourceProperties: typedProps }, bad, source, noSleep), /is not a yyyy-MM-dd date/);
    assert.ok(!bad.started.some((q) => q.sql.includes('VIEW')), 'no view is made with a bad day');
  });
});
