import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, stageConfig } from '../lib/config';
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
    rejects({ processorBufferMiB: 4 }, /processorBufferMiB must be a number in 0.2..3/);
  });

  it('checks types, architecture, capacity, e-mail and database names', () => {
    rejects({ retainData: 'yes' }, /retainData must be true or false/);
    rejects({ transformArchitecture: 'arm' }, /"arm64" or "x86_64"/);
    rejects({ streamCapacity: { mode: 'provisioned' } }, /provisioned mode needs "shards"/);
    rejects({ streamCapacity: { mode: 'fast' } }, /must be \{"mode":"on-demand"\}/);
    rejects({ alarmEmail: 'ops' }, /alarmEmail is not an e-mail address/);
    rejects({ glueDatabase: 'Event-Lake' }, /glueDatabase must be lower-case/);
    rejects({ lakeInfrequentAccessAfterDays: 400 }, /lakeGlacierAfterDays must be later/);
  });

  it('accepts provisioned shards', () => {
    const c = stageConfig({ qa: { streamCapacity: { mode: 'provisioned', shards: 4 } } }, 'qa');
    assert.deepEqual(c.streamCapacity, { mode: 'provisioned', shards: 4 });
  });
});
