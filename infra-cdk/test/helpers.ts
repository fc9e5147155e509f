/** Shared by the tests: build the app as `cdk synth` does, with the real Rust bundling. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import type { EventlakeStack } from '../lib/eventlake-stack';

/** The stages of cdk.json, as the CLI reads them. */
export const CDK_JSON = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

/** The app for `stage`, with cdk.json's context, optionally one stage's settings changed. */
export function synthStage(stage: string, overrides: Record<string, unknown> = {}): { app: App; stack: EventlakeStack } {
  const stages = JSON.parse(JSON.stringify(CDK_JSON.context['eventlake:stages'])) as Record<string, Record<string, unknown>>;
  stages[stage] = { ...stages[stage], ...overrides };
  const app = new App({
    context: { ...CDK_JSON.context, 'eventlake:stages': stages, stage },
    outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-cdk-')),
  });
  const stack = buildApp(app);
  return { app, stack };
}

const templates = new Map<string, Template>();

/** The synthesized template of `stage` (cached per stage and overrides). */
export function template(stage: string, overrides: Record<string, unknown> = {}): Template {
  const key = `${stage} ${JSON.stringify(overrides)}`;
  let t = templates.get(key);
  if (!t) {
    t = Template.fromStack(synthStage(stage, overrides).stack);
    templates.set(key, t);
  }
  return t;
}

/** The one resource of `type` in the template: its logical id and properties. */
export function only(t: Template, type: string): { id: string; props: any } {
  const found = Object.entries(t.findResources(type));
  if (found.length !== 1) {
    throw new Error(`expected one ${type}, found ${found.length}`);
  }
  return { id: found[0][0], props: (found[0][1] as any).Properties };
}
