import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { RESOURCE_TYPES } from "../components/contract";
import { environmentConfigSchema, Environment, resolveEnvironment } from "./environment";
import { markPlainSecrets, scriptHasSecretAssignment, unwrapPolicyProxy } from "./secrets";
import { ecsPolicies } from "./ecs";
import { isStatefulType, STATEFUL_LABELS, StatefulType } from "./stateful";

/*
 * The data-safety policies. Each one is a plain `ResourceValidationPolicy`
 * whose `validateResource` is pure: the tests call it with a test double for
 * `args` and a collecting `reportViolation`, without an engine.
 *
 * Resource types are matched by token (`args.type`), not with `isType(aws.rds.Instance)`:
 * importing @pulumi/aws into the pack would make every preview type-check and load
 * the whole AWS SDK for five string comparisons.
 */

export const PACK_NAME = "panopticon-data-safety";

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

export const MIN_BACKUP_RETENTION_DAYS = 7;

export interface PackOptions {
  /** The stack's `panopticon:environment`, as read from stack config (may be undefined). */
  readonly stackEnvironment?: unknown;
}

type Validate = (args: ResourceValidationArgs, report: ReportViolation) => void;

/** Runs `check` only when the environment is known and valid; an invalid one is itself a violation. */
function inEnvironment(
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

function ofType(type: string, check: Validate): Validate {
  return (args, report) => {
    if (args.type === type) check(args, report);
  };
}

const show = (v: unknown): string => (v === undefined ? "(not set)" : JSON.stringify(v));

function isLoopback(ip: unknown): boolean {
  if (typeof ip !== "string") return false;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1";
}

const OPEN_V4 = "0.0.0.0/0";
const OPEN_V6 = "::/0";

function openCidrs(rule: Record<string, unknown>, v4Key: string, v6Key: string): string[] {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  return [
    ...list(rule[v4Key]).filter((c) => c === OPEN_V4),
    ...list(rule[v6Key]).filter((c) => c === OPEN_V6),
  ].map(String);
}

export function createPolicies(opts: PackOptions = {}): ResourceValidationPolicy[] {
  return [
    {
      name: "stateful-protected-in-prod",
      description:
        "In AWS stacks every stateful resource (Docker volume, RDS, EFS, EBS, KMS key) has protect: true.",
      configSchema: environmentConfigSchema,
      validateResource: inEnvironment(opts, (env, args, report) => {
        if (env !== "aws" || !isStatefulType(args.type)) return;
        if (args.opts.protect !== true) {
          report(
            `${STATEFUL_LABELS[args.type as StatefulType]} "${args.name}" must have protect: true in an AWS stack: ` +
              "without it `pulumi destroy` or a replace deletes its data. Set it through the protection policy " +
              "(components/protection.ts), not per resource.",
          );
        }
      }),
    },
    {
      name: "rds-deletion-protection",
      description: "RDS instances have deletionProtection: true.",
      validateResource: ofType(T.rdsInstance, (args, report) => {
        if (args.props.deletionProtection !== true) {
          report(
            `deletionProtection = ${show(args.props.deletionProtection)}: expected true, so AWS refuses to delete the database`,
          );
        }
      }),
    },
    {
      name: "rds-final-snapshot",
      description: "RDS instances take a final snapshot on deletion (named, never skipped).",
      validateResource: ofType(T.rdsInstance, (args, report) => {
        if (args.props.skipFinalSnapshot === true) {
          report(
            "skipFinalSnapshot = true: expected false, so deleting the instance keeps a snapshot",
          );
        }
        const id = args.props.finalSnapshotIdentifier;
        if (typeof id !== "string" || id === "") {
          report(
            `finalSnapshotIdentifier = ${show(id)}: expected a name (with a stable random suffix); ` +
              "without it the delete fails late (pulumi/pulumi-aws#2196)",
          );
        }
      }),
    },
    {
      name: "rds-backup-retention",
      description: `RDS instances keep automated backups for at least ${MIN_BACKUP_RETENTION_DAYS} days.`,
      validateResource: ofType(T.rdsInstance, (args, report) => {
        const days = args.props.backupRetentionPeriod;
        if (typeof days !== "number" || days < MIN_BACKUP_RETENTION_DAYS) {
          report(
            `backupRetentionPeriod = ${show(days)}: expected at least ${MIN_BACKUP_RETENTION_DAYS} days`,
          );
        }
      }),
    },
    {
      name: "rds-encrypted",
      description: "RDS instances encrypt their storage.",
      validateResource: ofType(T.rdsInstance, (args, report) => {
        if (args.props.storageEncrypted !== true) {
          report(`storageEncrypted = ${show(args.props.storageEncrypted)}: expected true`);
        }
      }),
    },
    {
      name: "rds-not-public",
      description: "RDS instances are not publicly accessible.",
      validateResource: ofType(T.rdsInstance, (args, report) => {
        if (args.props.publiclyAccessible === true) {
          report("publiclyAccessible = true: expected false; reach the database from the VPC only");
        }
      }),
    },
    {
      name: "efs-encrypted",
      description: "EFS file systems are encrypted at rest.",
      validateResource: ofType(T.efs, (args, report) => {
        if (args.props.encrypted !== true) {
          report(`encrypted = ${show(args.props.encrypted)}: expected true`);
        }
      }),
    },
    {
      name: "ebs-encrypted",
      description: "EBS volumes are encrypted at rest.",
      validateResource: ofType(T.ebs, (args, report) => {
        if (args.props.encrypted !== true) {
          report(`encrypted = ${show(args.props.encrypted)}: expected true`);
        }
      }),
    },
    {
      name: "local-ports-loopback",
      description: "In local stacks, containers publish ports on a loopback address only.",
      configSchema: environmentConfigSchema,
      validateResource: inEnvironment(opts, (env, args, report) => {
        if (env !== "local" || args.type !== T.container) return;
        const ports = args.props.ports;
        if (!Array.isArray(ports)) return;
        ports.forEach((p: Record<string, unknown>, i: number) => {
          if (p === null || typeof p !== "object" || p.external === undefined) return;
          if (!isLoopback(p.ip)) {
            report(
              `ports[${i}] (${show(p.internal)} -> host ${show(p.external)}) ip = ${show(p.ip)}: ` +
                'expected a loopback address such as "127.0.0.1" (Docker publishes on 0.0.0.0, every interface, when ip is not set)',
            );
          }
        });
      }),
    },
    {
      name: "no-public-ingress",
      description: "No security group admits traffic from 0.0.0.0/0 or ::/0.",
      validateResource: (args, report) => {
        const props = args.props as Record<string, unknown>;
        if (args.type === T.securityGroup && Array.isArray(props.ingress)) {
          props.ingress.forEach((rule: Record<string, unknown>, i: number) => {
            const open = openCidrs(rule, "cidrBlocks", "ipv6CidrBlocks");
            if (open.length > 0) {
              report(
                `ingress[${i}] (ports ${show(rule.fromPort)}-${show(rule.toPort)}) allows ${open.join(", ")}: ` +
                  "expected a private range, an admin CIDR or a security-group reference",
              );
            }
          });
        }
        if (args.type === T.securityGroupRule && props.type === "ingress") {
          const open = openCidrs(props, "cidrBlocks", "ipv6CidrBlocks");
          if (open.length > 0)
            report(`ingress rule allows ${open.join(", ")}: expected a narrower source`);
        }
        if (args.type === T.ingressRule) {
          const open = openCidrs(props, "cidrIpv4", "cidrIpv6");
          if (open.length > 0)
            report(`ingress rule allows ${open.join(", ")}: expected a narrower source`);
        }
      },
    },
    {
      name: "no-plaintext-secrets",
      description:
        "No credential in EC2 user data, which AWS and the state keep in plain text whatever Pulumi marks secret.",
      validateResource: ofType(T.ec2Instance, (args, report) => {
        const props = args.props as Record<string, unknown>;
        for (const key of ["userData", "userDataBase64"]) {
          const v = props[key];
          if (typeof v !== "string") continue;
          const text = key === "userDataBase64" ? Buffer.from(v, "base64").toString("utf8") : v;
          if (scriptHasSecretAssignment(text)) {
            report(
              `${key} assigns a credential: user data is stored in plain text, expected the host to fetch secrets (SSM Parameter Store / Secrets Manager) at boot`,
            );
          }
        }
      }),
    },
    {
      name: "secret-inputs-encrypted",
      description:
        "Secret-named inputs (an RDS password, container env such as POSTGRES_PASSWORD or a DATABASE_URL with a password, token properties) are always Pulumi secrets; plain ones are marked secret before they reach the state.",
      // Remediation sees secrets still wrapped (validation does not), so this is the
      // one policy that fixes instead of blocking: the value is encrypted, not rejected.
      enforcementLevel: "remediate",
      remediateResource: (args) => {
        const raw = unwrapPolicyProxy(args.props);
        if (raw === null || typeof raw !== "object") return undefined;
        const { found, props } = markPlainSecrets(raw as Record<string, unknown>);
        return found.length > 0 ? props : undefined;
      },
    },
    ...ecsPolicies(),
  ];
}

/** Names of every policy, in pack order (used by tests and docs/guard.md). */
export const POLICY_NAMES = createPolicies().map((p) => p.name);
