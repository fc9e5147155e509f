/**
 * The Athena SQL of the curated table (`<database>.<table>_curated`, Apache Iceberg), built
 * from `glue-schema/table.json`: the same columns, partitioned by the same keys. The merge has
 * the semantics of `eventlake compact` (tested locally): rows already curated win; new raw
 * rows are taken once per key of the table's duplicate rule (`duplicates`: lower(event_uuid),
 * created_at — the contract's key, as in `events_unique`), the first in the rule's keep order.
 */
import type { TableDefinition } from './schema';

/** Name of the curated table. */
export function curatedTableName(table: TableDefinition): string {
  return `${table.name}_curated`;
}

/** The duplicate key as SQL expressions (`lower(event_uuid), created_at`). */
export function duplicateKeySql(table: TableDefinition): string {
  return table.duplicates.key.map((k) => (k.ignoreCase ? `lower(${k.column})` : k.column)).join(', ');
}

/**
 * The window that numbers a key's rows, 1 for the one kept; `created_date` (a function of
 * `created_at`) leads the partition so that date filters reach the partitions. The same text
 * as in the generated `events_unique` view (a test compares them).
 */
export function duplicateWindowSql(table: TableDefinition): string {
  return `row_number() OVER (PARTITION BY created_date, ${duplicateKeySql(table)} ORDER BY ${table.duplicates.keep.join(', ')})`;
}

/** Every column of the curated table: data columns, then the partition keys. */
function allColumns(table: TableDefinition) {
  return [...table.columns, ...table.partitionKeys];
}

/** `CREATE TABLE IF NOT EXISTS` of the Iceberg table under `location` (`s3://…/curated/`). */
export function createCuratedTable(table: TableDefinition, database: string, location: string): string {
  const columns = allColumns(table)
    .map((c) => `  ${c.name} ${c.type} COMMENT '${c.comment.replace(/'/g, "''")}'`)
    .join(',\n');
  return [
    `CREATE TABLE IF NOT EXISTS ${database}.${curatedTableName(table)} (`,
    columns,
    `)`,
    `PARTITIONED BY (${table.partitionKeys.map((k) => k.name).join(', ')})`,
    `LOCATION '${location}'`,
    `TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'PARQUET', 'write_compression' = 'SNAPPY', ` +
      `'optimize_rewrite_delete_file_threshold' = '2', 'vacuum_max_snapshot_age_seconds' = '604800')`,
  ].join('\n');
}

/**
 * Most partitions one Athena write may add. AWS documents 100 per `CREATE TABLE AS SELECT`
 * and per `INSERT INTO` (HIVE_TOO_MANY_OPEN_PARTITIONS,
 * https://docs.aws.amazon.com/athena/latest/ug/ctas-insert-into.html); an Iceberg `MERGE`
 * fails the same way (ICEBERG_TOO_MANY_OPEN_PARTITIONS, issue #19). For `OPTIMIZE` AWS is
 * silent (https://docs.aws.amazon.com/athena/latest/ug/optimize-statement.html): unverified,
 * so it is bounded the same way.
 */
export const MAX_PARTITIONS_PER_WRITE = 100;

/**
 * One write of the daily job: the raw rows of one `created_date` (the run's day minus
 * `dayOffset`) and of some event types, so that it touches at most `eventTypes.length`
 * partitions of the curated table (partitioned by event type and date).
 */
export interface CuratedWrite {
  /** Days before the run's day: 0 is the day itself. */
  readonly dayOffset: number;
  /** The event types written; every type when the catalog has at most {@link MAX_PARTITIONS_PER_WRITE}. */
  readonly eventTypes: readonly string[];
  /** Whether `eventTypes` is all of them (no event-type filter needed). */
  readonly allTypes: boolean;
}

/**
 * The daily job's writes for `lookbackDays`: each day of the window on its own, its event
 * types in as few groups of at most {@link MAX_PARTITIONS_PER_WRITE} as there can be. One MERGE
 * over the whole window would write types × (lookback + 1) partitions: 26 × 3 = 78 today, 832
 * at the largest look-back.
 */
export function curatedWrites(eventTypes: readonly string[], lookbackDays: number): CuratedWrite[] {
  const groups: string[][] = [];
  for (let i = 0; i < eventTypes.length; i += MAX_PARTITIONS_PER_WRITE) {
    groups.push(eventTypes.slice(i, i + MAX_PARTITIONS_PER_WRITE));
  }
  const writes: CuratedWrite[] = [];
  for (let dayOffset = 0; dayOffset <= lookbackDays; dayOffset++) {
    for (const group of groups) {
      writes.push({ dayOffset, eventTypes: group, allTypes: groups.length === 1 });
    }
  }
  return writes;
}

/** The partitions a write can add or rewrite: one date, each of its event types. */
export function partitionsOf(write: CuratedWrite): number {
  return write.eventTypes.length;
}

/**
 * The SQL slots of a write's statements, filled by the state machine for each write:
 * `{day}` the run's day (`yyyy-MM-dd`), `{offset}` {@link CuratedWrite.dayOffset}, `{types}`
 * {@link typesFilter} of the write.
 */
export type Slot = 'day' | 'offset' | 'types';

/** The `created_date` of a write: the run's day minus the write's offset. */
export const WRITE_DATE = "CAST(date '{day}' - INTERVAL '{offset}' DAY AS varchar)";

/** A write's event-type filter, appended to a predicate: empty when it writes every type. */
export function typesFilter(table: TableDefinition, write: CuratedWrite): string {
  // The partition key projected from the catalog's event types (`event_type`).
  const column = table.partitionKeys.find((k) => table.projection[k.name]?.type === 'enum')?.name;
  if (column === undefined) {
    throw new Error('glue-schema/table.json: no partition key is projected from the event types');
  }
  return write.allTypes ? '' : ` AND ${column} IN (${write.eventTypes.map((t) => `'${t.replace(/'/g, "''")}'`).join(', ')})`;
}

/**
 * The MERGE of one write's raw rows into the curated table (slots: {@link Slot}). The raw
 * rows of the write's date are numbered over every event type, then those of the write's
 * types taken, so a key filed under two types keeps the same row whichever group holds it;
 * the ON clause matches curated rows of any type (event_type is not part of the key) and
 * bounds their `created_date` by the same constant, so Athena reads one date of the growing
 * curated table (a key-only join would scan all of it, and the workgroup's scan cutoff would
 * end up cancelling the job).
 */
export function mergeIntoCurated(table: TableDefinition, database: string): string {
  const names = allColumns(table).map((c) => c.name);
  // created_date follows from created_at: comparing it costs nothing and lets Iceberg match
  // partitions; event_type is not part of the key.
  const side = (alias: string, k: { column: string; ignoreCase?: boolean }) =>
    k.ignoreCase ? `lower(${alias}.${k.column})` : `${alias}.${k.column}`;
  const keyEquals = ['t.created_date = s.created_date']
    .concat(table.duplicates.key.map((k) => `${side('t', k)} = ${side('s', k)}`))
    .concat([`t.created_date = ${WRITE_DATE}`]);
  return [
    `MERGE INTO ${database}.${curatedTableName(table)} AS t`,
    `USING (`,
    `  SELECT ${names.join(', ')}`,
    `  FROM (`,
    `    SELECT *, ${duplicateWindowSql(table)} AS row_in_key`,
    `    FROM ${database}.${table.name}`,
    `    WHERE created_date = ${WRITE_DATE}`,
    `  ) AS numbered`,
    `  WHERE row_in_key = 1{types}`,
    `) AS s`,
    `ON ${keyEquals.join(' AND ')}`,
    `WHEN NOT MATCHED THEN INSERT (${names.join(', ')})`,
    `VALUES (${names.map((n) => `s.${n}`).join(', ')})`,
  ].join('\n');
}

/**
 * `sql` with its slots as `States.Format` placeholders (`{}`), and the slots in their order:
 * the state machine passes one argument per placeholder.
 */
export function slotsOf(sql: string): { template: string; slots: Slot[] } {
  const slots: Slot[] = [];
  const template = sql.replace(/\{(day|offset|types)\}/g, (_, slot: Slot) => {
    slots.push(slot);
    return '{}';
  });
  return { template, slots };
}

/** Compaction of one write's curated files into large ones (slots: {@link Slot}). */
export function optimizeCurated(table: TableDefinition, database: string): string {
  return `OPTIMIZE ${database}.${curatedTableName(table)} REWRITE DATA USING BIN_PACK WHERE created_date = ${WRITE_DATE}{types}`;
}

/** Removal of snapshots older than the table's `vacuum_max_snapshot_age_seconds` and orphan files. */
export function vacuumCurated(table: TableDefinition, database: string): string {
  return `VACUUM ${database}.${curatedTableName(table)}`;
}
