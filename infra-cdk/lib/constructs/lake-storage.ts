import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULTS, TABLE_STORAGE } from '../config';

/** Props of {@link LakeStorage}. */
export interface LakeStorageProps {
  /** Keep the buckets when the stack is deleted; `false` empties and deletes them. @default `DEFAULTS.retainData` (config.ts) */
  readonly retainData?: boolean;
  /** Days after which lake objects move to Standard-IA. @default `DEFAULTS.lakeInfrequentAccessAfterDays` (config.ts) */
  readonly infrequentAccessAfterDays?: number;
  /** Days after which lake objects move to Glacier Instant Retrieval. @default `DEFAULTS.lakeGlacierAfterDays` (config.ts) */
  readonly glacierAfterDays?: number;
  /** Prefix of the raw table's files. @default `storage.eventsPrefix` of `glue-schema/table.json` */
  readonly eventsPrefix?: string;
  /** Prefix of Firehose's failed records. @default `storage.errorsPrefix` of `glue-schema/table.json` */
  readonly errorsPrefix?: string;
  /** Days Athena query results are kept. @default `DEFAULTS.athenaResultsRetentionDays` (config.ts) */
  readonly queryResultsRetentionDays?: number;
}

/**
 * The lake's buckets: the lake itself (`events/`, `errors/`), Athena's query results, and the
 * server access logs of both. All three: S3-managed encryption, public access blocked, TLS
 * enforced, bucket-owner-enforced ownership (no ACLs).
 */
export class LakeStorage extends Construct {
  /** The lake: Parquet under `events/`, Firehose's failed records under `errors/`. */
  readonly lakeBucket: s3.Bucket;
  /** Athena's query results (the workgroup's enforced output location). */
  readonly queryResultsBucket: s3.Bucket;
  /** Server access logs of the other two buckets. */
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: LakeStorageProps = {}) {
    super(scope, id);
    const retain = props.retainData ?? DEFAULTS.retainData;
    const ia = props.infrequentAccessAfterDays ?? DEFAULTS.lakeInfrequentAccessAfterDays;
    const glacier = props.glacierAfterDays ?? DEFAULTS.lakeGlacierAfterDays;
    // S3 keeps objects 30 days in Standard-IA before Glacier
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html).
    if (ia < 30 || glacier < ia + 30) {
      throw new Error(`LakeStorage: infrequentAccessAfterDays (${ia}) must be ≥ 30 and glacierAfterDays (${glacier}) ≥ it + 30`);
    }
    const common: s3.BucketProps = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !retain,
    };

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      // Server access logs can only be delivered with S3-managed keys; they are themselves not logged.
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });

    this.lakeBucket = new s3.Bucket(this, 'Lake', {
      ...common,
      // Versioning protects against an overwrite or delete by mistake (compaction rewrites
      // files); old versions expire so they do not double the bill.
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'lake/',
      lifecycleRules: [
        {
          id: 'events-to-cheaper-storage',
          prefix: props.eventsPrefix ?? TABLE_STORAGE.eventsPrefix,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(ia) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(glacier) },
          ],
        },
        {
          // Rejected records are kept (nothing may be lost) but rarely read after the fix.
          id: 'errors-to-cheaper-storage',
          prefix: props.errorsPrefix ?? TABLE_STORAGE.errorsPrefix,
          transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
        },
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(30) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });

    this.queryResultsBucket = new s3.Bucket(this, 'QueryResults', {
      ...common,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'query-results/',
      lifecycleRules: [
        { id: 'expire-query-results', expiration: Duration.days(props.queryResultsRetentionDays ?? DEFAULTS.athenaResultsRetentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
  }
}
