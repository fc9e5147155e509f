import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The CloudFormation logical id of a construct's resource, as cdk-nag names it in findings
 * such as `Resource::<LogicalId.Arn>/prefix/*` (acknowledgements must quote it exactly).
 */
export function resourceLogicalId(c: IConstruct): string {
  const child = c.node.defaultChild as CfnElement | undefined;
  if (!child) {
    throw new Error(`${c.node.path} has no CloudFormation resource`);
  }
  return Stack.of(c).getLogicalId(child);
}
