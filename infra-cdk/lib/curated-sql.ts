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
 * The window of `created_date`s merged for the day `{}` (a `yyyy-MM-dd` placeholder filled in
 * by the state machine): that day and the `lookbackDays` before it.
 */
export function windowPredicate(column: string, lookbackDays: number): string {
  return `${column} BETWEEN CAST(date '{}' - INTERVAL '${lookbackDays}' DAY AS varchar) AND '{}'`;
}

/**
 * The MERGE of the window's raw rows into the curated table (`{}` placeholders: the day; see
 * {@link placeholderCount}). The ON clause bounds the target's `created_date` by the same
 * constant window, so Athena reads only those partitions of the growing curated table (a
 * key-only join would scan all of it, and the workgroup's scan cutoff would end up cancelling
 * the job).
 */
export function mergeIntoCurated(table: TableDefinition, database: string, lookbackDays: number): string {
  const names = allColumns(table).map((c) => c.name);
  // created_date follows from created_at: comparing it costs nothing and lets Iceberg match
  // partitions; event_type is not part of the key.
  const side = (alias: string, k: { column: string; ignoreCase?: boolean }) =>
    k.ignoreCase ? `lower(${alias}.${k.column})` : `${alias}.${k.column}`;
  const keyEquals = ['t.created_date = s.created_date']
    .concat(table.duplicates.key.map((k) => `${side('t', k)} = ${side('s', k)}`))
    .concat([windowPredicate('t.created_date', lookbackDays)]);
  return [
    `MERGE INTO ${database}.${curatedTableName(table)} AS t`,
    `USING (`,
    `  SELECT ${names.join(', ')}`,
    `  FROM (`,
    `    SELECT *, ${duplicateWindowSql(table)} AS row_in_key`,
    `    FROM ${database}.${table.name}`,
    `    WHERE ${windowPredicate('created_date', lookbackDays)}`,
    `  ) AS numbered`,
    `  WHERE row_in_key = 1`,
    `) AS s`,
    `ON ${keyEquals.join(' AND ')}`,
    `WHEN NOT MATCHED THEN INSERT (${names.join(', ')})`,
    `VALUES (${names.map((n) => `s.${n}`).join(', ')})`,
  ].join('\n');
}

/** How many `{}` placeholders (each the day, `yyyy-MM-dd`) `sql` holds. */
export function placeholderCount(sql: string): number {
  return sql.split('{}').length - 1;
}

/** Compaction of the window's curated files into large ones (two `{}` placeholders: the day). */
export function optimizeCurated(table: TableDefinition, database: string, lookbackDays: number): string {
  return `OPTIMIZE ${database}.${curatedTableName(table)} REWRITE DATA USING BIN_PACK WHERE ${windowPredicate('created_date', lookbackDays)}`;
}

/** Removal of snapshots older than the table's `vacuum_max_snapshot_age_seconds` and orphan files. */
export function vacuumCurated(table: TableDefinition, database: string): string {
  return `VACUUM ${database}.${curatedTableName(table)}`;
}
