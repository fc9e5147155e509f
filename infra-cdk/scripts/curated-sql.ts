/**
 * Prints the curated job's statements that sqlglot's Athena dialect understands (the Iceberg
 * CREATE TABLE and the MERGE of a write of every type and of a group of types), their slots
 * filled with a sample day: `just sql-check` parses them with glue-schema/check_athena_sql.py.
 * OPTIMIZE and VACUUM are Athena statements sqlglot does not know (it reads them as opaque
 * commands), so they are left out.
 *
 * Usage (from infra-cdk/): node --import tsx scripts/curated-sql.ts > FILE
 */
import { createCuratedTable, curatedWrites, mergeIntoCurated, typesFilter, type CuratedWrite } from '../lib/curated-sql';
import { loadLakeSchema } from '../lib/schema';

const schema = loadLakeSchema();
const database = 'eventlake';

/** `sql` with its slots filled for `write` on a sample day. */
function filled(sql: string, write: CuratedWrite): string {
  return sql
    .replace(/\{day\}/g, '2026-12-02')
    .replace(/\{offset\}/g, String(write.dayOffset))
    .replace(/\{types\}/g, typesFilter(schema.table, write));
}

// A catalog of more than 100 types gets writes with an event-type filter: one of those too.
const manyTypes = Array.from({ length: 150 }, (_, i) => `type_${i}`);
const writes = [curatedWrites(schema.eventTypes, 2)[1], curatedWrites(manyTypes, 2)[1]];
const statements = [
  createCuratedTable(schema.table, database, 's3://amzn-s3-demo-bucket/curated/'),
  ...writes.map((w) => filled(mergeIntoCurated(schema.table, database), w)),
];
process.stdout.write(statements.map((s) => `${s};\n`).join('\n'));
