import type { ReportViolation, ResourceValidationArgs } from "@pulumi/policy";
import { RESOURCE_TYPES } from "../components/contract";
import { Environment, resolveEnvironment } from "./environment";

/*
 * What the pack's policies share: the type tokens they match on (not
 * `isType(aws.rds.Instance)`: importing @pulumi/aws into the pack would make every
 * preview type-check and load the whole AWS SDK for a few string comparisons), and
 * the wrappers that run a check for one type or one environment.
 */

export const T = {
  rdsInstance: RESOURCE_TYPES.rdsInstance,
  efs: RESOURCE_TYPES.efsFileSystem,
  ebs: RESOURCE_TYPES.ebsVolume,
  container: RESOURCE_TYPES.dockerContainer,
  securityGroup: RESOURCE_TYPES.securityGroup,
  // Not a type the program registers (it uses ingressRule): checked in case one is added.
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: RESOURCE_TYPES.ingressRule,
  ec2Instance: RESOURCE_TYPES.ec2Instance,
} as const;

export interface PackOptions {
  /** The stack's `panopticon:environment`, as read from stack config (may be undefined). */
  readonly stackEnvironment?: unknown;
}

export type Validate = (args: ResourceValidationArgs, report: ReportViolation) => void;

/** Runs `check` only when the environment is known and valid; an invalid one is itself a violation. */
export function inEnvironment(
  opts: PackOptions,
  check: (env: Environment, args: ResourceValidationArgs, report: ReportViolation) => void,
): Validate {
  return (args, report) => {
    const config = args.getConfig<{ environment?: unknown }>() ?? {};
    const env = resolveEnvironment(config.environment, opts.stackEnvironment);
    if (!env.ok) {
      report(`cannot tell whether this is a local or an AWS stack: ${env.error}`);
      return;
    }
    check(env.environment, args, report);
  };
}

export function ofType(type: string, check: Validate): Validate {
  return (args, report) => {
    if (args.type === type) check(args, report);
  };
}

export const show = (v: unknown): string => (v === undefined ? "(not set)" : JSON.stringify(v));
