/**
 * Which kind of stack the pack is looking at. Policies that differ between
 * local and AWS stacks ask this module, never the stack name.
 *
 * Order of precedence:
 * 1. the policy's own config `environment` (`--policy-pack-config FILE`), for
 *    the rare case where the stack config cannot be read;
 * 2. the stack's `panopticon:environment`, which Pulumi hands to Node.js policy
 *    packs as ordinary stack config (readable with `pulumi.Config`);
 * 3. "local", the default declared in Pulumi.yaml, so the pack judges a stack
 *    exactly as the program will build it.
 */
export type Environment = "local" | "aws";

export const ENVIRONMENTS: readonly Environment[] = ["local", "aws"];

/** Config schema shared by every environment-dependent policy. */
export const environmentConfigSchema = {
  properties: {
    environment: {
      type: "string" as const,
      enum: ["local", "aws"],
      description:
        'Overrides the stack\'s panopticon:environment ("local" or "aws"); normally left unset.',
    },
  },
};

export type EnvironmentResult =
  { ok: true; environment: Environment } | { ok: false; error: string };

export function resolveEnvironment(policyConfig: unknown, stackValue: unknown): EnvironmentResult {
  const check = (value: unknown, source: string): EnvironmentResult =>
    typeof value === "string" && (ENVIRONMENTS as readonly string[]).includes(value)
      ? { ok: true, environment: value as Environment }
      : {
          ok: false,
          error: `${source} = ${JSON.stringify(value)}: expected "local" or "aws"`,
        };
  if (policyConfig !== undefined && policyConfig !== null) {
    return check(policyConfig, "policy config environment");
  }
  if (stackValue !== undefined && stackValue !== null && stackValue !== "") {
    return check(stackValue, "panopticon:environment");
  }
  return { ok: true, environment: "local" };
}
