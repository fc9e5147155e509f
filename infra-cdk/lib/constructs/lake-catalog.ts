import { Aws, Size } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { qualify } from '../athena-layer/statements';
import { type LakeSchema, projectionParameters } from '../schema';
import { DEFAULTS } from '../config';

/** Props of {@link LakeCatalog}. */
export interface LakeCatalogProps {
  /** The table, event types and generated SQL from `glue-schema/` (see `loadLakeSchema`). */
  readonly schema: LakeSchema;
  /** The lake bucket (`events/…`). */
  readonly lakeBucket: s3.IBucket;
  /** Where Athena writes query results (the workgroup enforces it). */
  readonly queryResultsBucket: s3.IBucket;
  /** Name of the Athena workgroup. */
  readonly workGroupName: string;
  /**
   * Glue database name, for stages that share an account. The generated SQL names
   * `<table.json database>.<object>`; saved queries are rewritten to this name.
   * @default the `database` of `glue-schema/table.json`
   */
  readonly databaseName?: string;
  /**
   * The lake window, `projection.created_date.range`: the transform must be given the same
   * (its `EVENTLAKE_LAKE_DATE_RANGE`), so that no accepted event is outside what Athena shows.
   * @default the range of `glue-schema/table.json`
   */
  readonly lakeDateRange?: string;
  /** Athena cancels a query that scans more than this. @default `DEFAULTS.athenaBytesScannedCutoffGiB` (config.ts) */
  readonly bytesScannedCutoff?: Size;
}

/**
 * The analysts' side: the Glue database and table (columns, partition keys and partition
 * projection straight from `glue-schema/`), an Athena workgroup whose settings users cannot
 * override (encrypted results in the results bucket, engine v3, a scan cutoff, metrics), and
 * the cookbook queries as saved (named) queries in that workgroup.
 */
export class LakeCatalog extends Construct {
  /** The Glue database. */
  readonly database: glue.CfnDatabase;
  /** The Glue table Firehose converts against and Athena queries. */
  readonly table: glue.CfnTable;
  /** The Athena workgroup. */
  readonly workGroup: athena.CfnWorkGroup;
  /** The Glue database name. */
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const { schema } = props;
    const def = schema.table;
    this.databaseName = props.databaseName ?? def.database;
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      throw new Error(`LakeCatalog: database name "${this.databaseName}" must be lower-case letters, digits and _`);
    }

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.databaseName, description: 'eventlake: events from the Kinesis stream, as Parquet on S3' },
    });

    const location = `s3://${props.lakeBucket.bucketName}/${def.storage.eventsPrefix}`;
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name: def.name,
        description: def.description,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: def.partitionKeys.map((c) => ({ name: c.name, type: c.type, comment: c.comment })),
        parameters: {
          classification: 'parquet',
          'parquet.compression': def.storage.compression,
          EXTERNAL: 'TRUE',
          ...projectionParameters(schema, props.lakeBucket.bucketName, props.lakeDateRange),
        },
        storageDescriptor: {
          columns: def.columns.map((c) => ({ name: c.name, type: c.type, comment: c.comment })),
          location,
          inputFormat: def.storage.inputFormat,
          outputFormat: def.storage.outputFormat,
          serdeInfo: { serializationLibrary: def.storage.serializationLibrary, parameters: { 'serialization.format': '1' } },
          compressed: false,
          storedAsSubDirectories: false,
        },
      },
    });
    this.table.addResourceDependency(this.database);

    const cutoff = props.bytesScannedCutoff ?? Size.gibibytes(DEFAULTS.athenaBytesScannedCutoffGiB);
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName,
      description: `eventlake analysts: queries over ${this.databaseName}.${def.name}`,
      state: 'ENABLED',
      // Deleting the stack must not fail because someone saved a query in the workgroup.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: cutoff.toBytes(),
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.queryResultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
          expectedBucketOwner: Aws.ACCOUNT_ID,
        },
      },
    });

    // The cookbook, saved in the workgroup. The views themselves are created at deploy by the
    // stack's AthenaLayer (a named query is only saved, never run).
    for (const q of schema.namedQueries.filter((n) => n.kind === 'query')) {
      const query = new athena.CfnNamedQuery(this, `Query-${q.name}`, {
        name: q.name.replace(/_/g, ' '),
        description: `Cookbook query ${q.name}`,
        database: this.databaseName,
        workGroup: this.workGroup.name,
        queryString: qualify(q.sql, def.database, this.databaseName),
      });
      query.addResourceDependency(this.workGroup);
      query.addResourceDependency(this.database);
    }
  }
}
