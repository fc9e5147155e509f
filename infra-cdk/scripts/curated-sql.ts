/**
 * Prints the curated job's statements that sqlglot's Athena dialect understands (the Iceberg
 * CREATE TABLE, an ADD COLUMNS, and the MERGE and the typed columns' UPDATE of a write of every
 * type and of a group of types), their slots
 * filled with a sample day; and a typed view with curated days filled in, as the Athena layer
 * makes it after a daily run: `just sql-check` parses them with glue-schema/check_athena_sql.py.
 * OPTIMIZE and VACUUM are Athena statements sqlglot does not know (it reads them as opaque
 * commands), so they are left out.
 *
 * Usage (from infra-cdk/): node --import tsx scripts/curated-sql.ts DIR — one file per statement
 * (sqlglot's Athena dialect picks Hive's or Trino's reading per text, so statements of both
 * kinds are not mixed in one file).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  addCuratedColumns,
  backfillCurated,
  createCuratedTable,
  curatedWrites,
  fillSlots,
  mergeIntoCurated,
  typesFilter,
  type CuratedWrite,
} from '../lib/curated-sql';
import { fillCuratedDays } from '../lib/athena-layer/statements';
import { loadLakeSchema } from '../lib/schema';

const schema = loadLakeSchema();
const database = 'eventlake';

/** `sql` with its slots filled for `write` on a sample day. */
function filled(sql: string, write: CuratedWrite): string {
  return fillSlots(sql, { day: '2026-12-02', offset: String(write.dayOffset), types: typesFilter(schema.table, write) });
}

// A catalog of more than 100 types gets writes with an event-type filter: one of those too.
const manyTypes = Array.from({ length: 150 }, (_, i) => `type_${i}`);
const writes = [curatedWrites(schema.eventTypes, 2)[1], curatedWrites(manyTypes, 2)[1]];
const statements = [
  createCuratedTable(schema.table, schema.typedColumns, database, 's3://amzn-s3-demo-bucket/curated/'),
  addCuratedColumns(schema.table, schema.typedColumns.slice(0, 2), database),
  ...writes.map((w) => filled(mergeIntoCurated(schema.table, schema.typedColumns, database), w)),
  ...writes.map((w) => filled(backfillCurated(schema.table, schema.typedColumns, database), w)),
  fillCuratedDays(schema.namedQueries.find((q) => q.name === 'payment_order_completed')!.sql, () => ['2026-11-30', '2026-12-01']).replace(/;\s*$/, ''),
];
const dir = process.argv[2];
if (!dir) {
  throw new Error('usage: curated-sql.ts DIR');
}
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
statements.forEach((s, i) => fs.writeFileSync(path.join(dir, `${String(i + 1).padStart(2, '0')}.sql`), `${s};\n`));
