import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEFAULTS, stageConfig } from '../lib/config';
import { parseLakeDateRange } from '../lib/lake-window';
import { GLUE_SCHEMA_DIR } from '../lib/schema';
import { CDK_JSON } from './helpers';

const stages = CDK_JSON.context['eventlake:stages'];

describe('stage config', () => {
  it('cdk.json defines dev, staging and prod, and each is valid', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      const c = stageConfig(stages, stage);
      assert.equal(c.stage, stage);
    }
  });

  it('fills every setting a stage leaves out from the defaults', () => {
    const c = stageConfig({ qa: {} }, 'qa');
    assert.deepEqual({ ...c, stage: undefined }, { ...DEFAULTS, stage: undefined });
  });

  it('prod keeps data; dev may be thrown away', () => {
    assert.equal(stageConfig(stages, 'prod').retainData, true);
    assert.equal(stageConfig(stages, 'staging').retainData, true);
    assert.equal(stageConfig(stages, 'dev').retainData, false);
  });

  it('staging and prod differ only in sizing and retention, not in shape', () => {
    const staging = stageConfig(stages, 'staging');
    const prod = stageConfig(stages, 'prod');
    for (const key of ['deaggregateRecords', 'transformArchitecture', 's3BufferMiB', 's3BufferSeconds', 'retainData'] as const) {
      assert.deepEqual(staging[key], prod[key], key);
    }
  });

  const rejects = (settings: Record<string, unknown>, message: RegExp, stage = 'qa') =>
    assert.throws(() => stageConfig({ qa: settings }, stage), (e: unknown) => e instanceof ConfigError && message.test(e.message));

  it('rejects an unknown stage, naming the ones that exist', () => {
    rejects({}, /unknown stage "nope": cdk.json defines qa/, 'nope');
  });

  it('rejects a missing stages table', () => {
    assert.throws(() => stageConfig(undefined, 'dev'), /eventlake:stages" is missing/);
  });

  it('rejects unknown keys (typos) instead of ignoring them', () => {
    rejects({ s3BufferSecond: 60 }, /unknown setting "s3BufferSecond"/);
  });

  it('enforces Firehose limits on buffers', () => {
    rejects({ s3BufferMiB: 32 }, /s3BufferMiB must be an integer in 64..128/);
    rejects({ s3BufferSeconds: 30 }, /s3BufferSeconds must be an integer in 60..900/);
    rejects({ processorBufferMiB: 4 }, /processorBufferMiB must be an integer in 1..3/);
  });

  it('checks types, architecture, capacity, e-mail and database names', () => {
    rejects({ retainData: 'yes' }, /retainData must be true or false/);
    rejects({ transformArchitecture: 'arm' }, /"arm64" or "x86_64"/);
    rejects({ streamCapacity: { mode: 'provisioned' } }, /provisioned mode needs "shards"/);
    rejects({ streamCapacity: { mode: 'fast' } }, /must be \{"mode":"on-demand"\}/);
    rejects({ alarmEmail: 'ops' }, /alarmEmail is not an e-mail address/);
    rejects({ glueDatabase: 'Event-Lake' }, /glueDatabase must be lower-case/);
    rejects({ lakeInfrequentAccessAfterDays: 400 }, /lakeGlacierAfterDays must be at least lakeInfrequentAccessAfterDays \+ 30/);
  });

  // Each bound is AWS's (docs/deploy.md cites the pages); a value just outside is refused.
  for (const [key, inside, outside, message] of [
    ['transformTimeoutSeconds', 300, 301, /transformTimeoutSeconds must be an integer in 10..300/],
    ['processorBufferMiB', 1, 0.5, /processorBufferMiB must be an integer in 1..3, got 0.5/],
    ['processorBufferMiB', 3, 2.5, /processorBufferMiB must be an integer in 1..3/],
    ['processorBufferSeconds', 900, 901, /processorBufferSeconds must be an integer in 0..900/],
    ['s3BufferMiB', 128, 129, /s3BufferMiB must be an integer in 64..128/],
    ['s3BufferSeconds', 60, 59, /s3BufferSeconds must be an integer in 60..900/],
    ['streamRetentionHours', 8760, 8761, /streamRetentionHours must be an integer in 24..8760/],
    ['transformMemoryMb', 10240, 10241, /transformMemoryMb must be an integer in 128..10240/],
    ['lakeInfrequentAccessAfterDays', 30, 29, /lakeInfrequentAccessAfterDays must be an integer in 30..3650/],
    ['logRetentionDays', 3653, 3654, /logRetentionDays must be an integer in 1..3653/],
    ['athenaBytesScannedCutoffGiB', 1, 0, /athenaBytesScannedCutoffGiB must be an integer in 1..1048576/],
    ['freshnessAlarmSeconds', 60, 59, /freshnessAlarmSeconds must be an integer in 60..86400/],
    ['processorBufferSeconds', 0, -1, /processorBufferSeconds must be an integer in 0..900/],
    ['athenaResultsRetentionDays', 3650, 3651, /athenaResultsRetentionDays must be an integer in 1..3650/],
    ['lakeGlacierAfterDays', 3650, 3651, /lakeGlacierAfterDays must be an integer in 60..3650/],
    ['curatedLookbackDays', 31, 32, /curatedLookbackDays must be an integer in 0..31/],
  ] as const) {
    it(`${key}: ${inside} is accepted, ${outside} refused`, () => {
      assert.equal(stageConfig({ qa: { [key]: inside } }, 'qa')[key], inside);
      rejects({ [key]: outside }, message);
    });
  }

  it('keeps objects 30 days in Standard-IA before Glacier', () => {
    assert.equal(stageConfig({ qa: { lakeInfrequentAccessAfterDays: 60, lakeGlacierAfterDays: 90 } }, 'qa').lakeGlacierAfterDays, 90);
    rejects({ lakeInfrequentAccessAfterDays: 60, lakeGlacierAfterDays: 89 }, /at least lakeInfrequentAccessAfterDays \+ 30/);
  });

  it("defaults the lake date range to glue-schema/table.json's", () => {
    const table = JSON.parse(fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'table.json'), 'utf8'));
    assert.equal(DEFAULTS.lakeDateRange, table.projection.created_date.range);
  });

  it('checks lakeDateRange with the cases the transform also runs', () => {
    const cases = JSON.parse(fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'lake-window-cases.json'), 'utf8'));
    for (const c of cases.valid) {
      const w = parseLakeDateRange(c.range);
      assert.deepEqual(w, { firstDay: c.firstDay }, c.range);
      assert.equal(stageConfig({ qa: { lakeDateRange: c.range } }, 'qa').lakeDateRange, c.range);
    }
    for (const range of cases.invalid) {
      assert.ok('error' in parseLakeDateRange(range), `${range} refused`);
      rejects({ lakeDateRange: range }, /lakeDateRange/);
    }
  });

  it('stops `cdk synth` on a bad setting with one readable line, no stack trace', () => {
    const stages = { dev: { transformTimeoutSeconds: 900 } };
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'bin', 'eventlake.ts')], {
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'dev', 'eventlake:stages': stages }), CDK_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), 'el-')) },
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^eventlake: stage "dev": transformTimeoutSeconds must be an integer in 10..300, got 900\n$/);
  });

  it('accepts provisioned shards', () => {
    const c = stageConfig({ qa: { streamCapacity: { mode: 'provisioned', shards: 4 } } }, 'qa');
    assert.deepEqual(c.streamCapacity, { mode: 'provisioned', shards: 4 });
  });
});
