import type { ResourceValidationPolicy } from "@pulumi/policy";
import { environmentConfigSchema } from "./environment";
import { markPlainSecrets, scriptHasSecretAssignment, unwrapPolicyProxy } from "./secrets";
import { ecsPolicies } from "./ecs";
import { inEnvironment, ofType, PackOptions, show, T } from "./match";
import { networkPolicies } from "./network";
import { rdsPolicies } from "./rds";
import { isStatefulType, STATEFUL_LABELS, StatefulType } from "./stateful";

/*
 * The data-safety policies. Each one is a plain `ResourceValidationPolicy`
 * whose `validateResource` is pure: the tests call it with a test double for
 * `args` and a collecting `reportViolation`, without an engine. Those of one area
 * live together: rds.ts, network.ts, ecs.ts; the rest are here.
 */

export const PACK_NAME = "panopticon-data-safety";

export { T } from "./match";
export type { PackOptions } from "./match";
export { MIN_BACKUP_RETENTION_DAYS } from "./rds";

/** In AWS stacks every stateful resource has protect: true. */
function statefulProtectedInProd(opts: PackOptions): ResourceValidationPolicy {
  return {
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
  };
}

/** A file system or volume of `type` is encrypted at rest. */
function encryptedAtRest(
  name: string,
  description: string,
  type: string,
): ResourceValidationPolicy {
  return {
    name,
    description,
    validateResource: ofType(type, (args, report) => {
      if (args.props.encrypted !== true) {
        report(`encrypted = ${show(args.props.encrypted)}: expected true`);
      }
    }),
  };
}

/** No credential in EC2 user data. */
const noPlaintextSecrets: ResourceValidationPolicy = {
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
};

/** Secret-named inputs are always Pulumi secrets (remediated, not refused). */
const secretInputsEncrypted: ResourceValidationPolicy = {
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
};

/** Every policy of the pack, in pack order. */
export function createPolicies(opts: PackOptions = {}): ResourceValidationPolicy[] {
  return [
    statefulProtectedInProd(opts),
    ...rdsPolicies(),
    encryptedAtRest("efs-encrypted", "EFS file systems are encrypted at rest.", T.efs),
    encryptedAtRest("ebs-encrypted", "EBS volumes are encrypted at rest.", T.ebs),
    ...networkPolicies(opts),
    noPlaintextSecrets,
    secretInputsEncrypted,
    ...ecsPolicies(),
  ];
}

/** Names of every policy, in pack order (used by tests and docs/guard.md). */
export const POLICY_NAMES = createPolicies().map((p) => p.name);
