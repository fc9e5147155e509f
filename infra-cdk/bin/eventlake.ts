#!/usr/bin/env node
/**
 * The CDK app: one stack per stage. `cdk synth -c stage=prod` (default `dev`); the stage's
 * settings come from the `eventlake:stages` context in cdk.json.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config';
import { buildApp } from '../lib/app';

try {
  buildApp(new App());
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`eventlake: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
