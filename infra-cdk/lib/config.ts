/**
 * Stage configuration: what differs between dev, staging and prod. It comes from the
 * `eventlake:stages` context in `cdk.json` (or `-c` on the command line), is checked here once,
 * and flows into the constructs as typed props. Constructs never read context or environment
 * variables themselves.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseLakeDateRange } from './lake-window';
import * as logs from 'aws-cdk-lib/aws-logs';

/** Kinesis capacity: on-demand, or a fixed number of provisioned shards. */
export type StreamCapacity = { readonly mode: 'on-demand' } | { readonly mode: 'provisioned'; readonly shards: number };

/** Lambda CPU architecture of the transform. */
export type TransformArchitecture = 'arm64' | 'x86_64';

/** Everything a stage can set. Every field has a default; see {@link DEFAULTS}. */
export interface StageConfig {
  /** Stage name, used in resource names (`eventlake-<stage>-…`). */
  readonly stage: string;
  /** AWS account to deploy to. @default the CLI's current account (`CDK_DEFAULT_ACCOUNT`) */
  readonly account?: string;
  /** AWS region to deploy to. @default the CLI's current region (`CDK_DEFAULT_REGION`) */
  readonly region?: string;
  /**
   * Keep stateful resources (buckets, stream, log groups) when the stack is deleted.
   * `false` also empties the buckets on delete, for throwaway dev stages.
   * @default true
   */
  readonly retainData: boolean;
  /** Kinesis capacity mode. @default { mode: 'on-demand' } */
  readonly streamCapacity: StreamCapacity;
  /** Hours the stream keeps records (24–8760): the window to recover from a stopped Firehose. @default 24 */
  readonly streamRetentionHours: number;
  /** Transform CPU architecture. @default 'arm64' */
  readonly transformArchitecture: TransformArchitecture;
  /** Transform memory (MB); also sets its CPU share. @default 512 */
  readonly transformMemoryMb: number;
  /** Transform timeout (seconds, 10–300: Firehose waits at most 5 minutes for the transform). @default 60 */
  readonly transformTimeoutSeconds: number;
  /**
   * Buffer Firehose fills before it invokes the transform (whole MiB, 1–3). Firehose accepts
   * 0.2–3 MB, but CDK's `LambdaFunctionProcessor` writes whole MiB only.
   * @default 3
   */
  readonly processorBufferMiB: number;
  /** Longest Firehose waits before it invokes the transform (seconds, 0–900). @default 60 */
  readonly processorBufferSeconds: number;
  /** S3 buffer per partition before a Parquet file is written (MiB, 64–128). @default 128 */
  readonly s3BufferMiB: number;
  /** Longest a partition's buffer waits before it is written (seconds, 60–900). @default 900 */
  readonly s3BufferSeconds: number;
  /** Split records holding several newline-delimited JSON events before the transform. @default true */
  readonly deaggregateRecords: boolean;
  /**
   * The lake window: Athena's `projection.created_date.range` of the Glue table, and the dates
   * the transform accepts (an event dated outside is `ProcessingFailed`, kept under errors/).
   * `START,END`: START a date `yyyy-MM-dd`, END a date, `NOW` or `NOW+<n>DAYS`.
   * @default the range of `glue-schema/table.json` (`2020-01-01,NOW+1DAYS`)
   */
  readonly lakeDateRange: string;
  /** Days before the run's day that the daily curated-table job merges again (late events). @default 2 */
  readonly curatedLookbackDays: number;
  /** Days the CloudWatch log groups keep logs. @default 90 */
  readonly logRetentionDays: number;
  /** Athena stops a query that scans more than this (GiB). @default 100 */
  readonly athenaBytesScannedCutoffGiB: number;
  /** Days query results stay in the results bucket. @default 30 */
  readonly athenaResultsRetentionDays: number;
  /** Days after which lake objects move to S3 Standard-IA. @default 90 */
  readonly lakeInfrequentAccessAfterDays: number;
  /** Days after which lake objects move to S3 Glacier Instant Retrieval (still queryable). @default 365 */
  readonly lakeGlacierAfterDays: number;
  /**
   * Glue database, when several stages share one account (e.g. `eventlake_dev`).
   * @default the database of `glue-schema/table.json` (`eventlake`)
   */
  readonly glueDatabase?: string;
  /** E-mail address subscribed to the alarm topic. @default no subscription (the topic is created anyway) */
  readonly alarmEmail?: string;
  /** Alarm when the oldest undelivered record is older than this (seconds). @default s3BufferSeconds + 900 */
  readonly freshnessAlarmSeconds?: number;
}

/** `glue-schema/table.json`, read once for the defaults that come from it. */
const TABLE_JSON = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'glue-schema', 'table.json'), 'utf8'));

/** `projection.created_date.range` of `glue-schema/table.json`: the default lake window. */
const TABLE_DATE_RANGE: string = TABLE_JSON.projection.created_date.range;

/** The lake's prefixes (`storage` of `glue-schema/table.json`): the constructs' defaults. */
export const TABLE_STORAGE: { readonly eventsPrefix: string; readonly errorsPrefix: string; readonly curatedPrefix: string } =
  TABLE_JSON.storage;

/**
 * Defaults for every optional setting: sized from docs/performance.md, explained in
 * docs/deploy.md. The one home of each default: the constructs' props default to these too.
 */
export const DEFAULTS: Omit<StageConfig, 'stage'> = {
  retainData: true,
  streamCapacity: { mode: 'on-demand' },
  streamRetentionHours: 24,
  transformArchitecture: 'arm64',
  transformMemoryMb: 512,
  transformTimeoutSeconds: 60,
  processorBufferMiB: 3,
  processorBufferSeconds: 60,
  s3BufferMiB: 128,
  s3BufferSeconds: 900,
  deaggregateRecords: true,
  lakeDateRange: TABLE_DATE_RANGE,
  curatedLookbackDays: 2,
  logRetentionDays: 90,
  athenaBytesScannedCutoffGiB: 100,
  athenaResultsRetentionDays: 30,
  lakeInfrequentAccessAfterDays: 90,
  lakeGlacierAfterDays: 365,
};

/** A stage setting that cannot work; the message names the stage, the key and the allowed values. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const KNOWN_KEYS = new Set<string>([...Object.keys(DEFAULTS), 'account', 'region', 'glueDatabase', 'alarmEmail', 'freshnessAlarmSeconds']);

/**
 * The stage's settings from the `eventlake:stages` context object, merged over {@link DEFAULTS}
 * and checked: unknown keys, wrong types and out-of-range values throw a {@link ConfigError}.
 */
export function stageConfig(stages: unknown, stage: string): StageConfig {
  if (typeof stages !== 'object' || stages === null) {
    throw new ConfigError('context "eventlake:stages" is missing: cdk.json must define the stages (dev, staging, prod)');
  }
  const table = stages as Record<string, unknown>;
  if (!(stage in table)) {
    throw new ConfigError(`unknown stage "${stage}": cdk.json defines ${Object.keys(table).join(', ')}`);
  }
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(stage)) {
    throw new ConfigError(`stage name "${stage}" must match ^[a-z][a-z0-9-]{0,15}$ (it becomes part of resource names)`);
  }
  const raw = (table[stage] ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new ConfigError(`stage "${stage}": unknown setting "${key}"`);
    }
  }
  const config = { ...DEFAULTS, ...raw, stage } as StageConfig;
  const at = (key: string) => `stage "${stage}": ${key}`;
  const range = (key: keyof StageConfig, min: number, max: number, integer = true) => {
    const v = config[key];
    if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new ConfigError(`${at(key)} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
  };
  const bool = (key: keyof StageConfig) => {
    if (typeof config[key] !== 'boolean') {
      throw new ConfigError(`${at(key)} must be true or false, got ${JSON.stringify(config[key])}`);
    }
  };
  bool('retainData');
  bool('deaggregateRecords');
  // Every bound is AWS's, cited in docs/deploy.md ("Stage settings and AWS's limits").
  // Kinesis retention: 24 hours to 365 days (8760 h).
  range('streamRetentionHours', 24, 8760);
  // Lambda memory: 128–10240 MB.
  range('transformMemoryMb', 128, 10240);
  // Firehose waits at most 5 minutes for a transform invocation
  // (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html, "Lambda invocation duration").
  range('transformTimeoutSeconds', 10, 300);
  // Firehose: 0.2–3 MB (same page); CDK's LambdaFunctionProcessor writes whole MiB
  // (`Size.toMebibytes()` throws on a fraction), so 1, 2 or 3.
  range('processorBufferMiB', 1, 3);
  range('processorBufferSeconds', 0, 900);
  // Dynamic partitioning and format conversion need at least 64 MiB; Firehose's maximum is 128
  // (https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html).
  range('s3BufferMiB', 64, 128);
  // BufferingHints.IntervalInSeconds is 0–900; dynamic partitioning needs at least 60 s.
  range('s3BufferSeconds', 60, 900);
  range('curatedLookbackDays', 0, 31);
  range('logRetentionDays', 1, 3653);
  // Athena's per-query cutoff is at least 10 MB (BytesScannedCutoffPerQuery); 1 GiB and up here.
  range('athenaBytesScannedCutoffGiB', 1, 1048576);
  range('athenaResultsRetentionDays', 1, 3650);
  // S3 moves objects to Standard-IA no earlier than 30 days after creation, and keeps them there
  // 30 days before Glacier (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html).
  range('lakeInfrequentAccessAfterDays', 30, 3650);
  range('lakeGlacierAfterDays', 60, 3650);
  if (config.lakeGlacierAfterDays < config.lakeInfrequentAccessAfterDays + 30) {
    throw new ConfigError(
      `${at('lakeGlacierAfterDays')} must be at least lakeInfrequentAccessAfterDays + 30 (S3 keeps objects 30 days in Standard-IA), ` +
        `got ${config.lakeGlacierAfterDays} after ${config.lakeInfrequentAccessAfterDays}`,
    );
  }
  if (typeof config.lakeDateRange !== 'string') {
    throw new ConfigError(`${at('lakeDateRange')} must be a string like "2020-01-01,NOW+1DAYS", got ${JSON.stringify(config.lakeDateRange)}`);
  }
  const window = parseLakeDateRange(config.lakeDateRange);
  if ('error' in window) {
    throw new ConfigError(`${at('lakeDateRange')} ${JSON.stringify(config.lakeDateRange)}: ${window.error}`);
  }
  if (config.freshnessAlarmSeconds !== undefined) {
    range('freshnessAlarmSeconds', 60, 86400);
  }
  if (config.transformArchitecture !== 'arm64' && config.transformArchitecture !== 'x86_64') {
    throw new ConfigError(`${at('transformArchitecture')} must be "arm64" or "x86_64", got ${JSON.stringify(config.transformArchitecture)}`);
  }
  const capacity = config.streamCapacity as { mode?: unknown; shards?: unknown };
  if (capacity?.mode === 'provisioned') {
    if (typeof capacity.shards !== 'number' || !Number.isInteger(capacity.shards) || capacity.shards < 1) {
      throw new ConfigError(`${at('streamCapacity')}: provisioned mode needs "shards", a positive integer`);
    }
  } else if (capacity?.mode !== 'on-demand') {
    throw new ConfigError(`${at('streamCapacity')} must be {"mode":"on-demand"} or {"mode":"provisioned","shards":N}`);
  }
  if (config.glueDatabase !== undefined && !/^[a-z0-9_]{1,255}$/.test(String(config.glueDatabase))) {
    throw new ConfigError(`${at('glueDatabase')} must be lower-case letters, digits and _, got ${JSON.stringify(config.glueDatabase)}`);
  }
  if (config.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(String(config.alarmEmail))) {
    throw new ConfigError(`${at('alarmEmail')} is not an e-mail address: ${JSON.stringify(config.alarmEmail)}`);
  }
  return config;
}

/** CloudWatch Logs accepts only certain retention periods: the configured days, rounded up to one. */
export function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is logs.RetentionDays => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  const match = allowed.find((v) => v >= days);
  if (match === undefined) {
    throw new Error(`log retention of ${days} days is longer than CloudWatch allows (${allowed[allowed.length - 1]})`);
  }
  return match;
}
