import * as pulumi from "@pulumi/pulumi";

export type Environment = "local" | "aws";

/**
 * The one data-protection policy of a stack. Every protective flag on every
 * stateful resource (Pulumi `protect`/`retainOnDelete`, RDS deletion
 * protection and final snapshot, EBS final snapshot) is derived from it, so
 * no component decides on its own how careful to be.
 */
export interface ProtectionPolicy {
  /** `protect`: destroy and replace fail until the resource is unprotected. */
  readonly protect: boolean;
  /** `retainOnDelete`: a delete leaves the real resource (and its data) alone. Always true. */
  readonly retainOnDelete: true;
  /** RDS `deletionProtection`. */
  readonly deletionProtection: boolean;
  /** Take a final snapshot before an RDS instance or EBS volume is deleted. Always true. */
  readonly finalSnapshot: true;
}

/**
 * Local stacks retain data but stay destroyable (`pulumi destroy` must be able to
 * remove containers and the network); AWS stacks also protect and turn on every
 * provider-side guard. `protect` may be forced on for a local stack, never off for AWS.
 */
export function protectionPolicy(environment: Environment, protect?: boolean): ProtectionPolicy {
  const isAws = environment === "aws";
  return {
    protect: isAws ? true : (protect ?? false),
    retainOnDelete: true,
    deletionProtection: isAws,
    finalSnapshot: true,
  };
}

/** The resource options every stateful resource gets from the policy. */
export function statefulOptions(
  policy: ProtectionPolicy,
): Pick<pulumi.CustomResourceOptions, "protect" | "retainOnDelete"> {
  return { protect: policy.protect, retainOnDelete: policy.retainOnDelete };
}

/** A one-line, human summary of what a teardown keeps; exported as a stack output. */
export function protectionSummary(policy: ProtectionPolicy, environment: Environment): string {
  if (environment === "aws") {
    return (
      "pulumi destroy is blocked by protect on RDS, EFS, EBS, KMS and data volumes; " +
      "--exclude-protected removes only the stateless rest. Deleted data resources are retained " +
      "(retainOnDelete), RDS has deletion protection and a final snapshot."
    );
  }
  return (
    "pulumi destroy removes containers and the network; every data volume and bind directory " +
    `is retained (retainOnDelete${policy.protect ? " and protect" : ""}) and re-attached by the next pulumi up. ` +
    "Only `npm run purge` deletes data."
  );
}
