import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * The S3 actions Firehose needs on its destination bucket, as AWS documents them
 * ("Grant Firehose access to an Amazon S3 destination"): bucket-level and object-level.
 */
export const FIREHOSE_BUCKET_ACTIONS = ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'];
/** Object-level actions of {@link FIREHOSE_BUCKET_ACTIONS}. */
export const FIREHOSE_OBJECT_ACTIONS = ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'];

/**
 * `bucket`, except that `grantReadWrite` grants only Firehose's documented S3 actions, with
 * object actions limited to `prefixes`. The Firehose L2 destination calls `grantReadWrite`
 * on the bucket it is given, which would allow reading, writing and deleting every object.
 */
export function prefixScopedBucket(bucket: s3.IBucket, prefixes: string[]): s3.IBucket {
  if (prefixes.length === 0 || prefixes.some((p) => !p.endsWith('/') || p.startsWith('/'))) {
    throw new Error(`prefixScopedBucket: prefixes must be non-empty and look like "events/", got ${JSON.stringify(prefixes)}`);
  }
  const grantReadWrite = (grantee: iam.IGrantable): iam.Grant => {
    const bucketLevel = iam.Grant.addToPrincipal({ grantee, actions: FIREHOSE_BUCKET_ACTIONS, resourceArns: [bucket.bucketArn] });
    const objectLevel = iam.Grant.addToPrincipal({
      grantee,
      actions: FIREHOSE_OBJECT_ACTIONS,
      resourceArns: prefixes.map((p) => bucket.arnForObjects(`${p}*`)),
    });
    return bucketLevel.combine(objectLevel);
  };
  return new Proxy(bucket, {
    get(target, property, receiver) {
      return property === 'grantReadWrite' ? grantReadWrite : Reflect.get(target, property, receiver);
    },
  });
}
