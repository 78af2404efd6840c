import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { fakeArgs, NotApplicable } from "../../policy/testing";
import { RecordedResource } from "./harness";

/*
 * Pulumi's AWSGuard policies (npm @pulumi/awsguard 0.3) over what a program
 * registered under mocks. AWSGuard was written against @pulumi/aws 4, and two things
 * changed since: load balancers are `aws:lb/*` (AWSGuard looks for the older
 * `aws:elasticloadbalancingv2/*` and `aws:applicationloadbalancing/*` tokens, so it
 * would silently skip ours), and S3 bucket logging is one `logging` block (AWSGuard
 * reads the v4 list `loggings`). Each recorded resource is therefore also shown to
 * the policies in its v4 shape; nothing else is changed.
 */

type Policy = ResourceValidationPolicy | StackValidationPolicy;

const MODULES = [
  "apiGateway",
  "compute",
  "database",
  "elasticsearch",
  "network",
  "security",
  "storage",
] as const;

/** Every policy AWSGuard registers, read from its modules' exports. */
export function awsGuardPolicies(): Policy[] {
  const out: Policy[] = [];
  for (const m of MODULES) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(`@pulumi/awsguard/${m}`) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      const p = v as Partial<ResourceValidationPolicy & StackValidationPolicy>;
      if (typeof p?.name === "string" && (p.validateResource || p.validateStack)) {
        out.push(p as Policy);
      }
    }
  }
  return out;
}

/** The v4 type tokens and fields under which AWSGuard recognises a v7 resource. */
export function v4Shapes(
  r: RecordedResource,
): Array<{ type: string; props: Record<string, unknown> }> {
  const props = r.plainInputs;
  switch (r.type) {
    case "aws:lb/loadBalancer:LoadBalancer":
      return [
        { type: "aws:elasticloadbalancingv2/loadBalancer:LoadBalancer", props },
        { type: "aws:applicationloadbalancing/loadBalancer:LoadBalancer", props },
      ];
    case "aws:lb/listener:Listener":
      return [{ type: "aws:elasticloadbalancingv2/listener:Listener", props }];
    case "aws:s3/bucket:Bucket": {
      const { logging, ...rest } = props;
      return [{ type: r.type, props: { ...rest, loggings: logging ? [logging] : undefined } }];
    }
    default:
      return [{ type: r.type, props }];
  }
}

/** The defaults of a policy's config schema (what `pulumi up --policy-pack` applies). */
function configDefaults(p: Policy): Record<string, unknown> {
  const props = (p.configSchema?.properties ?? {}) as Record<string, { default?: unknown }>;
  return Object.fromEntries(
    Object.entries(props)
      .filter(([, s]) => s.default !== undefined)
      .map(([k, s]) => [k, s.default]),
  );
}

export interface AwsGuardResult {
  /** `<policy> on <resource name>: <message>`, sorted. */
  readonly violations: string[];
  /** Policies that found at least one resource of their type (the run was not vacuous). */
  readonly applied: string[];
}

/** Runs every AWSGuard policy over the recorded resources. */
export async function runAwsGuard(resources: readonly RecordedResource[]): Promise<AwsGuardResult> {
  const violations: string[] = [];
  const applied = new Set<string>();
  const shown = resources
    .filter((r) => r.custom)
    .flatMap((r) => v4Shapes(r).map((s) => ({ r, ...s })));
  for (const p of awsGuardPolicies()) {
    const config = configDefaults(p);
    if ("validateResource" in p && p.validateResource) {
      const fns = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource];
      for (const s of shown) {
        for (const fn of fns) {
          const args = fakeArgs({ type: s.type, name: s.r.name, props: s.props, config });
          try {
            await fn(args, (m: string) => violations.push(`${p.name} on ${s.r.name}: ${m}`));
            applied.add(p.name);
          } catch (e) {
            if (!(e instanceof NotApplicable)) throw e;
          }
        }
      }
    }
    if ("validateStack" in p && p.validateStack) {
      const stack = {
        resources: shown.map((s) => fakeArgs({ type: s.type, name: s.r.name, props: s.props })),
        getConfig: () => config,
        notApplicable: (reason?: string) => {
          throw Object.assign(new Error(reason), { notApplicable: true });
        },
      };
      try {
        await p.validateStack(stack as never, (m: string) =>
          violations.push(`${p.name} on the stack: ${m}`),
        );
        applied.add(p.name);
      } catch (e) {
        if (!(e as { notApplicable?: boolean }).notApplicable) throw e;
      }
    }
  }
  return { violations: violations.sort(), applied: [...applied].sort() };
}
