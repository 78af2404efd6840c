import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

/*
 * Test doubles for CrossGuard (used by tests/policy*.test.ts; never loaded by the pack): the `args` a policy's validateResource receives
 * and a collecting reportViolation. Pure: no engine, no gRPC server.
 */

export interface FakeResource {
  type: string;
  name?: string;
  urn?: string;
  props?: Record<string, unknown>;
  protect?: boolean;
  /** The policy's config, as `--policy-pack-config` would give it. */
  config?: Record<string, unknown>;
}

export class NotApplicable extends Error {}

export function fakeArgs(r: FakeResource): ResourceValidationArgs {
  const name = r.name ?? "res";
  const type = r.type;
  return {
    type,
    name,
    urn: r.urn ?? `urn:pulumi:test::panopticon::${type}::${name}`,
    props: r.props ?? {},
    opts: {
      protect: r.protect ?? false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    stackTags: new Map(),
    isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === type,
    asType: (cls: { __pulumiType?: string }) =>
      cls.__pulumiType === type ? (r.props as never) : undefined,
    getConfig: <T extends object>() => (r.config ?? {}) as T,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  } as unknown as ResourceValidationArgs;
}

/** Runs one policy's validations over one fake resource and returns the violation messages. */
export async function violations(
  policy: ResourceValidationPolicy,
  resource: FakeResource,
): Promise<string[]> {
  const out: string[] = [];
  const fns = policy.validateResource
    ? Array.isArray(policy.validateResource)
      ? policy.validateResource
      : [policy.validateResource]
    : [];
  for (const fn of fns) {
    try {
      await fn(fakeArgs(resource), (message: string) => {
        out.push(message);
      });
    } catch (e) {
      if (!(e instanceof NotApplicable)) throw e;
    }
  }
  return out;
}

export function byName(
  policies: ResourceValidationPolicy[],
  name: string,
): ResourceValidationPolicy {
  const p = policies.find((x) => x.name === name);
  if (!p) throw new Error(`no policy named ${name}`);
  return p;
}
