import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { App } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { synthStage } from './helpers';

/**
 * Synthesizes `app` and reads its validation report. cdk-nag's AwsSolutions pack runs as a
 * validation plugin at synthesis: any finding that is not acknowledged (with a reason) fails
 * it (the error is returned). The report lists every finding.
 */
function synthReport(app: App): { error: unknown; report: any } {
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  const reportFile = path.join(app.outdir, 'policy-validation-report.json');
  const report = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : undefined;
  return { error, report };
}

function violations(report: any): string[] {
  const out: string[] = [];
  for (const plugin of report?.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      for (const r of v.violatingResources ?? []) {
        out.push(`${v.ruleName} ${r.resourceLogicalId ?? ''} ${r.locations?.join(',') ?? ''}: ${v.description ?? ''}`);
      }
    }
  }
  return out;
}

describe('cdk-nag AwsSolutions', () => {
  for (const [stage, overrides] of [
    ['dev', {}],
    ['staging', { alarmEmail: 'oncall@example.com', streamCapacity: { mode: 'provisioned', shards: 2 } }],
    ['prod', {}],
  ] as const) {
    it(`${stage}: no unacknowledged findings`, () => {
      const { error, report } = synthReport(synthStage(stage, overrides).app);
      assert.ok(report, 'the validation report was written');
      assert.deepEqual(violations(report), []);
      assert.equal(error, undefined, String(error));
    });
  }

  it('does report a finding that is not acknowledged (the check is live)', () => {
    const { app, stack } = synthStage('prod');
    // A bucket without the lake's settings: nag must flag it.
    new s3.Bucket(stack, 'Careless');
    const { error, report } = synthReport(app);
    assert.ok(error, 'synthesis is interrupted by the violation');
    const found = violations(report).join('\n');
    assert.match(found, /AwsSolutions-S1/);
    assert.match(found, /AwsSolutions-S10/);
  });
});
