/**
 * The Athena layer's custom resource handler (CDK Provider framework `onEvent`): runs the
 * layer's statements in Athena at deploy time, so the views and tables analysts query exist
 * after `cdk deploy` (a saved `AWS::Athena::NamedQuery` is never run).
 *
 * - Create: every statement, in dependency order (waves, a few queries at a time), each
 *   waited for; a failed query fails the deploy with Athena's own message. A table statement
 *   with `columns` is followed by `ALTER TABLE … ADD COLUMNS` of those the table lacks (Glue's
 *   GetTable says which it has), so a catalog change reaches an existing curated table.
 * - Update: only the statements whose SQL changed or that are new (CloudFormation sends an
 *   update only when the generated SQL changed: the properties carry each statement's digest);
 *   views that left the layer are dropped.
 * - Delete: nothing. Tables hold data and views go with the Glue database; stack deletion
 *   leaves the lake alone.
 * - Refresh (not CloudFormation's: the daily curated job invokes the handler with the layer's
 *   properties after its writes): every typed view again, with the curated days of now.
 *
 * A typed view lists the days the curated table holds for its event type (its curated-days
 * slot, `fillCuratedDays`): whenever one runs, the days are asked of `CuratedDaysFrom` first
 * (`SELECT DISTINCT event_type, created_date`), so Athena prunes both sides of the view by
 * literals. A list that lags the table is still exact (both sides test the same list).
 *
 * The statements are read from `StatementsObject` (the S3 asset the deploy uploads), checked
 * against the digests of the properties, their placeholders filled from `Substitutions`.
 * Names in the statements are qualified by `SourceDatabase` (the generated SQL's) and run
 * against `Database` (the stage's `glueDatabase`). Athena API:
 * https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html and
 * API_GetQueryExecution.html (states QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED).
 */
import { checkQuerySize } from '../curated-sql';
import {
  addColumnsStatement,
  digestOf,
  executionOrder,
  fillCuratedDays,
  hasCuratedDaysSlot,
  type LayerStatement,
  qualify,
  type StatementDigest,
  substitute,
} from './statements';

/** What the handler needs of Athena (the SDK client in Lambda; a fake in the tests). */
export interface AthenaApi {
  /** Starts `sql` in `workGroup` with `database` as the default database; returns the query id. */
  startQuery(sql: string, database: string, workGroup: string): Promise<string>;
  /** The query's state and, when it failed, Athena's reason. */
  queryState(id: string): Promise<{ state: string; reason?: string }>;
  /** The column names of a table in the Glue Data Catalog (data columns and partition keys). */
  tableColumns(database: string, table: string): Promise<string[]>;
  /** The rows of a succeeded query, every page, each row its cells (NULL as undefined). */
  queryRows(id: string): Promise<(string | undefined)[][]>;
}

/** The custom resource's properties (CloudFormation passes them as given, numbers as strings). */
export interface LayerProperties {
  /** The database to create the objects in. */
  readonly Database: string;
  /** The database the statements' names are qualified with. */
  readonly SourceDatabase: string;
  /** The Athena workgroup the queries run in (its result location and encryption apply). */
  readonly WorkGroup: string;
  /** The statements' digests (the SQL is in `StatementsObject`). */
  readonly Statements: StatementDigest[];
  /** Where the statements are: a JSON array of {@link LayerStatement}. */
  readonly StatementsObject: { readonly Bucket: string; readonly Key: string };
  /** Placeholders in the statements and their values (e.g. the lake bucket's name). */
  readonly Substitutions?: Readonly<Record<string, string>>;
  /**
   * The layer's table whose days fill the typed views' curated-days slots (the curated table).
   * Without it the slots stay as they are: the views read the raw table only.
   */
  readonly CuratedDaysFrom?: string;
}

/** Reads the statements object (S3 GetObject in Lambda; a map in the tests). */
export type StatementSource = (bucket: string, key: string) => Promise<LayerStatement[]>;

/** The parts of a CloudFormation custom resource event the handler reads. */
export interface LayerEvent {
  /** Create, Update or Delete (CloudFormation's), or Refresh (the curated job's). */
  readonly RequestType: 'Create' | 'Update' | 'Delete' | 'Refresh';
  /** The resource's properties. */
  readonly ResourceProperties: LayerProperties;
  /** The previous properties, on Update. */
  readonly OldResourceProperties?: LayerProperties;
  /** The physical id, on Update and Delete. */
  readonly PhysicalResourceId?: string;
}

/** How the handler waits. */
export interface RunOptions {
  /**
   * Queries in flight at once. Athena counts running and queued DDL queries against the
   * account's "Active DDL queries" quota and answers TooManyRequestsException past it, which
   * is retried here (https://docs.aws.amazon.com/athena/latest/ug/service-limits.html; the
   * quota's default number is in the Service Quotas console, unverified here).
   * @default 4
   */
  readonly concurrency?: number;
  /** Sleeps `ms` milliseconds. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds left before the Lambda times out. @default no limit */
  readonly remainingMs?: () => number;
}

/** Athena's errors that mean "again, later" (throttling). */
const RETRYABLE = new Set(['TooManyRequestsException', 'ThrottlingException']);

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs one statement and waits for it; returns its query id, throws with Athena's reason when it does not succeed. */
async function runOne(athena: AthenaApi, name: string, sql: string, database: string, workGroup: string, opts: RunOptions): Promise<string> {
  const sleep = opts.sleep ?? sleepFor;
  let id: string | undefined;
  for (let attempt = 1; id === undefined; attempt++) {
    try {
      id = await athena.startQuery(sql, database, workGroup);
    } catch (e) {
      if (!RETRYABLE.has((e as Error).name) || attempt >= 8) {
        throw new Error(`${name}: Athena did not start the query: ${(e as Error).message}`);
      }
      await sleep(Math.min(200 * 2 ** attempt, 10_000));
    }
  }
  for (let poll = 0; ; poll++) {
    const { state, reason } = await athena.queryState(id);
    if (state === 'SUCCEEDED') {
      return id;
    }
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new Error(`${name}: Athena query ${id} ${state}: ${reason ?? 'no reason given'}`);
    }
    if (opts.remainingMs && opts.remainingMs() < 20_000) {
      throw new Error(`${name}: Athena query ${id} still ${state} when the handler ran out of time`);
    }
    await sleep(Math.min(250 * 2 ** poll, 5_000));
  }
}

/**
 * Runs `statements` (qualified for `source`) against `database`, in dependency order, at most
 * `concurrency` at a time; returns the names run, in the order they finished.
 */
export async function runStatements(
  athena: AthenaApi,
  statements: readonly LayerStatement[],
  target: { database: string; source: string; workGroup: string; curatedDaysFrom?: string },
  opts: RunOptions = {},
): Promise<string[]> {
  const done: string[] = [];
  // The curated days, asked once per run and only when a typed view runs (after the curated
  // table's own statement, which it depends on).
  let days: Promise<Map<string, string[]>> | undefined;
  const withDays = async (sql: string): Promise<string> => {
    if (!target.curatedDaysFrom || !hasCuratedDaysSlot(sql)) {
      return sql;
    }
    days ??= curatedDays(athena, target.curatedDaysFrom, target, opts);
    const byType = await days;
    return fillCuratedDays(sql, (t) => byType.get(t) ?? []);
  };
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const inLayer = new Set(statements.map((s) => s.name));
  // Dependencies outside the set to run already exist (an update runs only what changed).
  const local = statements.map((s) => ({ ...s, dependsOn: (s.dependsOn ?? []).filter((d) => inLayer.has(d)) }));
  for (const wave of executionOrder(local)) {
    const queue = [...wave];
    const worker = async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        const sql = await withDays(qualify(s.sql, target.source, target.database));
        checkQuerySize('Athena layer', s.name, sql);
        await runOne(athena, s.name, sql, target.database, target.workGroup, opts);
        if (s.columns && s.columns.length > 0) {
          const has = new Set((await athena.tableColumns(target.database, s.name)).map((c) => c.toLowerCase()));
          const missing = s.columns.filter((c) => !has.has(c.name.toLowerCase()));
          if (missing.length > 0) {
            const alter = addColumnsStatement(`${target.database}.${s.name}`, missing);
            await runOne(athena, `${s.name} (add columns)`, alter, target.database, target.workGroup, opts);
          }
        }
        done.push(s.name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  }
  return done;
}

/**
 * The days the curated table `table` holds, per event type (sorted): one query, every row
 * read. Athena's first row of a SELECT's results is its column names (AWS's example output;
 * unverified as a rule): a row that is the header is skipped, any other cell that is not a
 * `yyyy-MM-dd` date is refused when the views are filled.
 */
export async function curatedDays(
  athena: AthenaApi,
  table: string,
  target: { database: string; workGroup: string },
  opts: RunOptions = {},
): Promise<Map<string, string[]>> {
  const sql = `SELECT DISTINCT event_type, created_date FROM ${target.database}.${table}`;
  const id = await runOne(athena, `${table} (curated days)`, sql, target.database, target.workGroup, opts);
  const byType = new Map<string, Set<string>>();
  for (const [eventType, day] of await athena.queryRows(id)) {
    if (eventType === undefined || day === undefined || (eventType === 'event_type' && day === 'created_date')) {
      continue;
    }
    byType.set(eventType, (byType.get(eventType) ?? new Set()).add(day));
  }
  return new Map([...byType].map(([t, d]) => [t, [...d].sort()]));
}

/** What a layer event changes: the names of the statements to run and of the views to drop. */
export function plan(event: LayerEvent): { run: string[]; drop: string[] } {
  const props = event.ResourceProperties;
  if (event.RequestType === 'Delete') {
    return { run: [], drop: [] };
  }
  if (event.RequestType === 'Refresh') {
    // The views that list curated days: their digests say which (the SQL is in the object).
    return { run: props.Statements.filter((s) => s.kind === 'view' && s.curatedDays === true).map((s) => s.name), drop: [] };
  }
  const old = event.RequestType === 'Update' ? event.OldResourceProperties : undefined;
  const sameTarget =
    old &&
    old.Database === props.Database &&
    old.SourceDatabase === props.SourceDatabase &&
    JSON.stringify(old.Substitutions ?? {}) === JSON.stringify(props.Substitutions ?? {});
  if (!old || !sameTarget) {
    return { run: props.Statements.map((s) => s.name), drop: [] };
  }
  const before = new Map(old.Statements.map((s) => [s.name, s]));
  const now = new Set(props.Statements.map((s) => s.name));
  return {
    run: props.Statements.filter((s) => before.get(s.name)?.sha256 !== s.sha256 || before.get(s.name)?.kind !== s.kind).map((s) => s.name),
    drop: old.Statements.filter((s) => s.kind === 'view' && !now.has(s.name)).map((s) => s.name),
  };
}

/** The statements of `props`, read from its object and checked against its digests. */
async function loadStatements(props: LayerProperties, source: StatementSource): Promise<Map<string, LayerStatement>> {
  const { Bucket, Key } = props.StatementsObject;
  const loaded = new Map((await source(Bucket, Key)).map((s) => [s.name, s]));
  for (const d of props.Statements) {
    const s = loaded.get(d.name);
    if (!s || digestOf(s).sha256 !== d.sha256) {
      throw new Error(`s3://${Bucket}/${Key}: statement ${d.name} is missing or is not the one deployed`);
    }
  }
  return loaded;
}

/** Handles one custom resource event; the physical id names the database. */
export async function onEvent(
  event: LayerEvent,
  athena: AthenaApi,
  source: StatementSource,
  opts: RunOptions = {},
): Promise<{ PhysicalResourceId: string; Data: { Ran: string } }> {
  const props = event.ResourceProperties;
  const physicalId = event.PhysicalResourceId ?? `athena-layer:${props.Database}`;
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: physicalId, Data: { Ran: '' } };
  }
  const target = { database: props.Database, source: props.SourceDatabase, workGroup: props.WorkGroup, curatedDaysFrom: props.CuratedDaysFrom };
  const { run, drop } = plan(event);
  const statements = run.length > 0 ? await loadStatements(props, source) : new Map<string, LayerStatement>();
  const substitutions = props.Substitutions ?? {};
  const toRun = run.map((name) => {
    const s = statements.get(name)!;
    return { ...s, sql: substitute(s.sql, substitutions) };
  });
  // A refresh re-makes views of an existing layer: what they read exists already.
  const ran = await runStatements(athena, event.RequestType === 'Refresh' ? toRun.map((s) => ({ ...s, dependsOn: [] })) : toRun, target, opts);
  for (const name of drop) {
    await runOne(athena, name, `DROP VIEW IF EXISTS ${props.Database}.${name}`, props.Database, props.WorkGroup, opts);
  }
  // A new database is a new resource: CloudFormation then deletes the old one (a no-op).
  return { PhysicalResourceId: `athena-layer:${props.Database}`, Data: { Ran: String(ran.length) } };
}

/** The minimal shape of `@aws-sdk/client-athena` the Lambda uses. */
interface AthenaSdk {
  AthenaClient: new (config: object) => { send(command: object): Promise<any> };
  StartQueryExecutionCommand: new (input: object) => object;
  GetQueryExecutionCommand: new (input: object) => object;
  GetQueryResultsCommand: new (input: object) => object;
}

/** The minimal shape of `@aws-sdk/client-s3` the Lambda uses. */
interface S3Sdk {
  S3Client: new (config: object) => { send(command: object): Promise<any> };
  GetObjectCommand: new (input: object) => object;
}

/** The statements object from S3 (GetObject), as the Lambda reads it. Not run by the tests. */
export function s3Statements(): StatementSource {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@aws-sdk/client-s3') as S3Sdk;
  const client = new sdk.S3Client({});
  return async (bucket, key) => {
    const out = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await out.Body.transformToString('utf-8')) as LayerStatement[];
  };
}

/** The minimal shape of `@aws-sdk/client-glue` the Lambda uses. */
interface GlueSdk {
  GlueClient: new (config: object) => { send(command: object): Promise<any> };
  GetTableCommand: new (input: object) => object;
}

/**
 * The Athena client of the Lambda runtime: the Node.js runtimes include the AWS SDK for
 * JavaScript v3 (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html), so the
 * bundle does not carry it. Not run by the tests (no AWS here).
 */
export function sdkAthena(): AthenaApi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@aws-sdk/client-athena') as AthenaSdk;
  const client = new sdk.AthenaClient({});
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const glueSdk = require('@aws-sdk/client-glue') as GlueSdk;
  const glue = new glueSdk.GlueClient({});
  return {
    async startQuery(sql, database, workGroup) {
      const out = await client.send(
        new sdk.StartQueryExecutionCommand({ QueryString: sql, QueryExecutionContext: { Database: database }, WorkGroup: workGroup }),
      );
      return String(out.QueryExecutionId);
    },
    async queryState(id) {
      const out = await client.send(new sdk.GetQueryExecutionCommand({ QueryExecutionId: id }));
      const status = out.QueryExecution?.Status ?? {};
      return { state: String(status.State), reason: status.StateChangeReason ?? status.AthenaError?.ErrorMessage };
    },
    // GetQueryResults, 1000 rows a page at most; the role also reads the results location
    // (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html).
    async queryRows(id) {
      const rows: (string | undefined)[][] = [];
      let token: string | undefined;
      do {
        const out = await client.send(new sdk.GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, NextToken: token }));
        for (const row of out.ResultSet?.Rows ?? []) {
          rows.push((row.Data ?? []).map((d: { VarCharValue?: string }) => d.VarCharValue));
        }
        token = out.NextToken;
      } while (token);
      return rows;
    },
    // Glue GetTable (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-tables.html).
    // That an Iceberg table Athena created has its columns in StorageDescriptor.Columns is
    // implied by AWS (tables made outside Athena need an Iceberg SDK >= 0.13.0 "to populate
    // Iceberg table column information" in Glue:
    // https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-table-data.html), not
    // stated: unverified. Were they missing, every ADD COLUMNS would fail loudly at deploy.
    async tableColumns(database, table) {
      const out = await glue.send(new glueSdk.GetTableCommand({ DatabaseName: database, Name: table }));
      const t = out.Table ?? {};
      return [...(t.StorageDescriptor?.Columns ?? []), ...(t.PartitionKeys ?? [])].map((c: { Name: string }) => String(c.Name));
    },
  };
}

/** The Lambda entry point. */
export async function handler(event: LayerEvent, context: { getRemainingTimeInMillis(): number }) {
  return onEvent(event, sdkAthena(), s3Statements(), { remainingMs: () => context.getRemainingTimeInMillis() });
}
