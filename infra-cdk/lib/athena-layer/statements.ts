/**
 * The Athena layer the deploy creates: the generated views of `glue-schema/athena/views/` and
 * the tables Athena (not CloudFormation) must create, as statements the custom resource runs in
 * dependency order. Shared by the construct (synth time) and the handler (deploy time).
 */
import { createHash } from 'node:crypto';

/** One statement of the layer. */
export interface LayerStatement {
  /** The object it defines (`events_unique`, `page_viewed`, `events_curated`). */
  readonly name: string;
  /** A view (dropped when it leaves the layer) or a table (never dropped: it holds data). */
  readonly kind: 'view' | 'table';
  /** The statement, its names qualified by the database it is written for. */
  readonly sql: string;
  /** Names of the layer's other objects it reads: they run first. */
  readonly dependsOn: readonly string[];
  /**
   * For a table whose columns grow (the curated table's typed columns): every column, as a DDL
   * definition. After the statement (`CREATE TABLE IF NOT EXISTS`, which leaves an existing
   * table alone) the deploy adds the ones the table lacks ({@link addColumnsStatement}).
   */
  readonly columns?: readonly ColumnDefinition[];
}

/** One column of a table whose columns grow. */
export interface ColumnDefinition {
  /** The column name, as Glue holds it (lower case). */
  readonly name: string;
  /** Its DDL definition: `` `name` type COMMENT '…' ``. */
  readonly ddl: string;
}

/**
 * `ALTER TABLE <table> ADD COLUMNS (…)` of `columns`: for an Iceberg table a metadata-only
 * change (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-alter-table-add-columns.html).
 */
export function addColumnsStatement(table: string, columns: readonly ColumnDefinition[]): string {
  return `ALTER TABLE ${table} ADD COLUMNS (${columns.map((c) => c.ddl).join(', ')})`;
}

/**
 * What the custom resource's properties carry of a statement: its name, kind, dependencies
 * and the SHA-256 of its SQL. The SQL itself is in the statements object the deploy uploads
 * (an S3 asset), so the template stays small however many views the catalog makes; a changed
 * digest is what makes CloudFormation send an update, and the handler run that statement again.
 */
export interface StatementDigest {
  /** The object it defines. */
  readonly name: string;
  /** A view or a table. */
  readonly kind: 'view' | 'table';
  /** Names of the layer's other objects it reads. */
  readonly dependsOn: readonly string[];
  /** Hex SHA-256 of the statement as the object holds it (columns included). */
  readonly sha256: string;
  /** Whether it lists curated days (a typed view): a refresh runs it again. */
  readonly curatedDays?: boolean;
}

/** The digest of `s`: {@link StatementDigest}. */
export function digestOf(s: LayerStatement): StatementDigest {
  const sha256 = createHash('sha256')
    .update(JSON.stringify([s.sql, s.columns ?? []]))
    .digest('hex');
  return { name: s.name, kind: s.kind, dependsOn: s.dependsOn, sha256, ...(hasCuratedDaysSlot(s.sql) ? { curatedDays: true } : {}) };
}

/** `sql` with each placeholder of `substitutions` (e.g. `EVENTLAKE_BUCKET`) replaced by its value. */
export function substitute(sql: string, substitutions: Readonly<Record<string, string>>): string {
  return Object.entries(substitutions).reduce((text, [from, to]) => text.split(from).join(to), sql);
}

/** `sql` without its `--` comment lines and trailing `;`: one statement as Athena takes it. */
export function statementText(sql: string): string {
  return sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .trim()
    .replace(/;\s*$/, '');
}

/** Escapes `s` for a regular expression. */
function escaped(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The statements with their dependencies: a statement depends on every other one whose
 * `<database>.<name>` it mentions. Throws on a dependency cycle.
 */
export function withDependencies(
  database: string,
  statements: readonly { name: string; kind: 'view' | 'table'; sql: string; columns?: readonly ColumnDefinition[] }[],
): LayerStatement[] {
  const names = new Set(statements.map((s) => s.name));
  if (names.size !== statements.length) {
    throw new Error('Athena layer: two statements define the same object');
  }
  const out = statements.map((s) => ({
    ...s,
    dependsOn: statements
      .filter((o) => o.name !== s.name && new RegExp(`(?<![A-Za-z0-9_])${escaped(database)}\\.${escaped(o.name)}(?![A-Za-z0-9_])`).test(s.sql))
      .map((o) => o.name),
  }));
  executionOrder(out);
  return out;
}

/**
 * Waves of statements: each wave's statements depend only on earlier waves. Throws on an
 * unknown dependency or a cycle.
 */
export function executionOrder(statements: readonly LayerStatement[]): LayerStatement[][] {
  const byName = new Map(statements.map((s) => [s.name, s]));
  for (const s of statements) {
    for (const d of s.dependsOn) {
      if (!byName.has(d)) {
        throw new Error(`Athena layer: ${s.name} depends on ${d}, which the layer does not define`);
      }
    }
  }
  const done = new Set<string>();
  const waves: LayerStatement[][] = [];
  while (done.size < statements.length) {
    const wave = statements.filter((s) => !done.has(s.name) && s.dependsOn.every((d) => done.has(d)));
    if (wave.length === 0) {
      const left = statements.filter((s) => !done.has(s.name)).map((s) => s.name);
      throw new Error(`Athena layer: dependency cycle among ${left.join(', ')}`);
    }
    wave.forEach((s) => done.add(s.name));
    waves.push(wave);
  }
  return waves;
}

/**
 * `sql` with every name qualified by the database `from` (`from.events`, `from.page_viewed`)
 * qualified by `to` instead. The generated SQL always qualifies names this way.
 */
export function qualify(sql: string, from: string, to: string): string {
  if (from === to) {
    return sql;
  }
  return sql.replace(new RegExp(`(?<![A-Za-z0-9_."])${escaped(from)}\\.(?=[A-Za-z_])`, 'g'), `${to}.`);
}

/**
 * What a typed view's curated-days slot starts with, inside its quotes: the view lists the
 * days of an event type the curated table holds as `'eventlake:curated-days:<type>'`
 * (`athena::CURATED_DAYS_SLOT_PREFIX` of the Rust generator; a test compares them).
 */
export const CURATED_DAYS_SLOT_PREFIX = 'eventlake:curated-days:';

/** Whether `sql` has a curated-days slot (a typed view). */
export function hasCuratedDaysSlot(sql: string): boolean {
  return sql.includes(`'${CURATED_DAYS_SLOT_PREFIX}`);
}

/**
 * `sql` with each curated-days slot replaced by the days `daysOf` gives for its event type, as
 * date literals; a type without days keeps its slot (the view then reads the raw table only).
 * The same rule as the Rust generator's `fill_curated_days`: both run
 * `glue-schema/curated-days-cases.json`. Every day must be `yyyy-MM-dd` (it becomes SQL text).
 */
export function fillCuratedDays(sql: string, daysOf: (eventType: string) => readonly string[]): string {
  const open = `'${CURATED_DAYS_SLOT_PREFIX}`;
  let out = '';
  let rest = sql;
  for (let at = rest.indexOf(open); at >= 0; at = rest.indexOf(open)) {
    const close = rest.indexOf("'", at + open.length);
    if (close < 0) {
      break;
    }
    const days = daysOf(rest.slice(at + open.length, close));
    for (const day of days) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
        throw new Error(`curated day \`${day}\` is not a yyyy-MM-dd date`);
      }
    }
    out += rest.slice(0, at) + (days.length > 0 ? days.map((d) => `'${d}'`).join(', ') : rest.slice(at, close + 1));
    rest = rest.slice(close + 1);
  }
  return out + rest;
}
