/**
 * The lake's table as `glue-schema/` defines it: the single source of truth the transform's
 * tests and the local lake also read. Nothing here repeats a column; it only reads the JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The lake bucket's placeholder in generated SQL (`athena::BUCKET_PLACEHOLDER` of the Rust
 * generator; a test compares them): the deploy puts the bucket's name there.
 */
export const BUCKET_PLACEHOLDER = 'EVENTLAKE_BUCKET';

/** The repository's `glue-schema/` folder. */
export const GLUE_SCHEMA_DIR = path.resolve(__dirname, '..', '..', 'glue-schema');

/** One column or partition key of the table. */
export interface Column {
  /** Column name. */
  readonly name: string;
  /** Hive type, e.g. `string`, `bigint`, `timestamp`. */
  readonly type: string;
  /** What the column holds. */
  readonly comment: string;
}

/** Partition projection of one partition key, as `glue-schema/table.json` writes it. */
export interface Projection {
  /** `enum` or `date`. */
  readonly type: 'enum' | 'date';
  /** For `enum`: the file whose event types are the values (`catalog.json`). */
  readonly valuesFrom?: string;
  /** For `date`: the Java date format of the values. */
  readonly format?: string;
  /** For `date`: `start,end` of the range. */
  readonly range?: string;
  /** For `date`: step between values. */
  readonly interval?: number;
  /** For `date`: unit of the step (`DAYS`). */
  readonly intervalUnit?: string;
}

/** `glue-schema/table.json`. */
export interface TableDefinition {
  /** Glue database name. */
  readonly database: string;
  /** Glue table name. */
  readonly name: string;
  /** Table description. */
  readonly description: string;
  /** Data columns, in file order. */
  readonly columns: Column[];
  /** Partition keys, in path order. */
  readonly partitionKeys: Column[];
  /** Projection per partition key. */
  readonly projection: Record<string, Projection>;
  /**
   * What makes two rows the same event (the contract's key) and which is kept: the rule of
   * `events_unique`, the typed views, the curated `MERGE` and `eventlake compact`.
   */
  readonly duplicates: {
    /** Key columns; `ignoreCase` compares `lower(column)`. */
    readonly key: ReadonlyArray<{ readonly column: string; readonly ignoreCase?: boolean }>;
    /** Among a key's rows, the first in this column order is kept. */
    readonly keep: readonly string[];
  };
  /** Where and how the data is stored. */
  readonly storage: {
    /** Prefix of the raw table's Parquet files (`events/`). */
    readonly eventsPrefix: string;
    /** Prefix of Firehose's failed records (`errors/`). */
    readonly errorsPrefix: string;
    /** Prefix of the curated Iceberg table (`curated/`). */
    readonly curatedPrefix: string;
    readonly locationTemplate: string;
    readonly inputFormat: string;
    readonly outputFormat: string;
    readonly serializationLibrary: string;
    readonly compression: string;
  };
}

/**
 * One typed column of the curated table, as `eventlake schema generate` writes them to
 * `glue-schema/athena/curated-columns.json` from the catalog (issue #19).
 */
export interface TypedColumn {
  /** Column name: the payload field's name. */
  readonly name: string;
  /** The field's Hive type (one type per field name across the catalog). */
  readonly type: string;
  /** The column's comment. */
  readonly comment: string;
  /** The events whose catalog has the field. */
  readonly events: readonly string[];
  /** The Athena expression that fills it from a raw row: the typed views' reading, NULL for other events. */
  readonly athena: string;
}

/** The table, with the event types of the catalog. */
export interface LakeSchema {
  /** The table definition. */
  readonly table: TableDefinition;
  /** Event types of the catalog, sorted: the `event_type` projection's values. */
  readonly eventTypes: string[];
  /** Generated Athena SQL (`glue-schema/athena/{views,queries}`): name → statement. */
  readonly namedQueries: { readonly name: string; readonly kind: 'view' | 'query'; readonly sql: string }[];
  /** The curated table's typed columns (`glue-schema/athena/curated-columns.json`), sorted by name. */
  readonly typedColumns: readonly TypedColumn[];
}

/** Reads and checks `table.json`, `catalog.json` and the generated SQL and column list under `dir`. */
export function loadLakeSchema(dir: string = GLUE_SCHEMA_DIR): LakeSchema {
  const table = JSON.parse(fs.readFileSync(path.join(dir, 'table.json'), 'utf8')) as TableDefinition;
  for (const key of table.partitionKeys) {
    if (!table.projection[key.name]) {
      throw new Error(`glue-schema/table.json: partition key ${key.name} has no projection`);
    }
  }
  const enumProjection = Object.values(table.projection).find((p) => p.type === 'enum');
  const catalogFile = enumProjection?.valuesFrom ?? 'catalog.json';
  const catalog = JSON.parse(fs.readFileSync(path.join(dir, catalogFile), 'utf8')) as {
    event_types: { name: string }[];
  };
  const eventTypes = catalog.event_types.map((t) => t.name).sort();
  if (eventTypes.length === 0) {
    throw new Error(`glue-schema/${catalogFile}: no event types`);
  }
  const namedQueries: LakeSchema['namedQueries'] = [];
  for (const [folder, kind] of [['views', 'view'], ['queries', 'query']] as const) {
    const folderPath = path.join(dir, 'athena', folder);
    for (const file of fs.readdirSync(folderPath).filter((f) => f.endsWith('.sql')).sort()) {
      namedQueries.push({ name: file.replace(/\.sql$/, ''), kind, sql: fs.readFileSync(path.join(folderPath, file), 'utf8') });
    }
  }
  const typedColumns = (JSON.parse(fs.readFileSync(path.join(dir, 'athena', 'curated-columns.json'), 'utf8')) as { columns: TypedColumn[] }).columns;
  const clash = typedColumns.find((c) => [...table.columns, ...table.partitionKeys].some((k) => k.name === c.name));
  if (clash) {
    throw new Error(`glue-schema/athena/curated-columns.json: typed column ${clash.name} is a column of the table`);
  }
  return { table, eventTypes, namedQueries, typedColumns };
}

/**
 * Glue table parameters for partition projection: Athena computes partitions from these
 * instead of listing S3 or keeping partitions in the catalog. `dateRange` replaces the date
 * key's range (the stage's `lakeDateRange`, which the transform also enforces).
 */
export function projectionParameters(schema: LakeSchema, bucketName: string, dateRange?: string): Record<string, string> {
  const { table } = schema;
  const params: Record<string, string> = { 'projection.enabled': 'true' };
  for (const key of table.partitionKeys) {
    const p = table.projection[key.name];
    params[`projection.${key.name}.type`] = p.type;
    if (p.type === 'enum') {
      params[`projection.${key.name}.values`] = schema.eventTypes.join(',');
    } else {
      params[`projection.${key.name}.format`] = p.format!;
      params[`projection.${key.name}.range`] = dateRange ?? p.range!;
      params[`projection.${key.name}.interval`] = String(p.interval);
      params[`projection.${key.name}.interval.unit`] = p.intervalUnit!;
    }
  }
  params['storage.location.template'] = `s3://${bucketName}/${table.storage.locationTemplate}`;
  return params;
}

/**
 * The Firehose S3 prefix for the table's layout: `events/<key>=!{partitionKeyFromLambda:<key>}/…`
 * for every partition key, in path order.
 */
export function firehoseDataPrefix(table: TableDefinition): string {
  return table.storage.eventsPrefix + table.partitionKeys.map((k) => `${k.name}=!{partitionKeyFromLambda:${k.name}}/`).join('');
}
