import { type App, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig } from './config';
import { EventlakeStack } from './eventlake-stack';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** The transform's code. @default built from the workspace with cargo-lambda */
  readonly transformCode?: lambda.Code;
}

/**
 * Adds the stage's stack (context `stage`, default `dev`) to `app`, with the cdk-nag
 * AwsSolutions checks as a validation plugin: synthesis fails on any finding that is not
 * acknowledged with a reason.
 */
export function buildApp(app: App, options: BuildAppOptions = {}): EventlakeStack {
  const stage = String(app.node.tryGetContext('stage') ?? 'dev');
  const config = stageConfig(app.node.tryGetContext('eventlake:stages'), stage);
  const stack = new EventlakeStack(app, `eventlake-${stage}`, {
    config,
    // Environment-agnostic unless the stage pins its account and region: the template then
    // deploys wherever the CLI's credentials point.
    env: config.account || config.region ? { account: config.account, region: config.region } : undefined,
    description: `eventlake ${stage}: Kinesis → Firehose → Rust transform → Parquet lake on S3 → Athena`,
    tags: { project: 'eventlake', stage },
    transformCode: options.transformCode,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
