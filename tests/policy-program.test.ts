import * as fs from "fs";
import * as path from "path";
import { Secret } from "@pulumi/policy";
import { createPolicies } from "../policy/policies";
import { isStatefulType } from "../policy/stateful";
import { violations } from "../policy/testing";
import {
  FIXTURE_SOURCE,
  isSecretWrapper,
  PROJECT_DIR,
  ProgramRun,
  RecordedResource,
  runProgram,
  promotedStackFile,
} from "./support/harness";

/*
 * The policy pack over what the real programs register (under mocks), per
 * stack file: zero violations expected. A broken copy of a recording must be
 * caught, so the wiring cannot pass without looking. retainOnDelete, which
 * policies cannot see, is checked here on the recorded options.
 */

const PASSWORD = "policyTestPassw0rd1234";

function stackFile(stack: string): Record<string, unknown> | undefined {
  const file = path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return undefined;
  const doc = promotedStackFile(path.basename(file)) as { config?: Record<string, unknown> };
  // A stack that builds from a checkout builds from the fixture one here.
  if (typeof doc?.config?.["panopticon:appSource"] === "string")
    return { ...doc.config, "panopticon:appSource": FIXTURE_SOURCE };
  return doc?.config;
}

/** Secret wrappers as a remediation sees them: `Secret` instances. */
function asPolicySecrets(v: unknown): unknown {
  if (isSecretWrapper(v)) return new Secret(asPolicySecrets(v.value));
  if (Array.isArray(v)) return v.map(asPolicySecrets);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asPolicySecrets(x)]));
  }
  return v;
}

async function packViolations(
  resources: readonly RecordedResource[],
  environment: unknown,
): Promise<string[]> {
  const policies = createPolicies({ stackEnvironment: environment });
  const found: string[] = [];
  for (const r of resources) {
    for (const p of policies) {
      // validateResource sees inputs with secrets unwrapped, as @pulumi/policy delivers them.
      const v = await violations(p, {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: r.plainInputs,
        protect: r.protect,
      });
      found.push(...v.map((m) => `${p.name} on ${r.type} ${r.name}: ${m}`));
      if (p.remediateResource) {
        const fixed = await p.remediateResource({
          type: r.type,
          name: r.name,
          urn: r.urn,
          props: asPolicySecrets(r.inputs) as Record<string, unknown>,
        } as never);
        if (fixed) found.push(`${p.name} on ${r.type} ${r.name}: plain secret-named input`);
      }
    }
  }
  return found;
}

const STACKS = ["dev", "prod", "prod-ecs"]
  .map((stack) => ({ stack, config: stackFile(stack) }))
  .filter(
    (s) =>
      s.config !== undefined &&
      // prod joins once its program exists (environment aws); until then only dev runs.
      (s.stack !== "prod" || s.config["panopticon:environment"] === "aws"),
  );

describe.each(STACKS)("policy pack over the $stack program", ({ stack, config }) => {
  let run: ProgramRun;
  const environment = config!["panopticon:environment"];

  beforeAll(async () => {
    run = await runProgram({ stack, config, secrets: { postgresPassword: PASSWORD } });
    if (run.error) throw run.error;
  });

  it("registers stateful resources (the check below is not vacuous)", () => {
    expect(run.resources.filter((r) => isStatefulType(r.type)).length).toBeGreaterThan(0);
  });

  it("has zero violations", async () => {
    expect(await packViolations(run.resources, environment)).toEqual([]);
  });

  it("retains every stateful resource (retainOnDelete, invisible to policies)", () => {
    const notRetained = run.resources
      .filter((r) => isStatefulType(r.type) && !r.retainOnDelete)
      .map((r) => `${r.type} ${r.name}`);
    expect(notRetained).toEqual([]);
  });

  it("catches a broken copy of a recorded resource", async () => {
    const stateful = run.resources.find((r) => isStatefulType(r.type))!;
    const container = run.resources.find((r) => r.type === "docker:index/container:Container");
    const broken: RecordedResource[] = [];
    if (environment === "aws") {
      broken.push({ ...stateful, protect: false });
    } else if (container) {
      broken.push({
        ...container,
        plainInputs: { ...container.plainInputs, ports: [{ internal: 1, external: 1 }] },
      });
    }
    broken.push({
      ...stateful,
      inputs: { ...stateful.inputs, password: "in-the-clear" },
      plainInputs: stateful.plainInputs,
    });
    const found = await packViolations(broken, environment);
    expect(found.join("\n")).toMatch(
      environment === "aws" ? /stateful-protected-in-prod/ : /local-ports-loopback/,
    );
    expect(found.join("\n")).toMatch(/secret-inputs-encrypted/);
  });
});

describe("stack files the pack judges", () => {
  it("dev is a local stack and exists", () => {
    expect(STACKS.map((s) => s.stack)).toContain("dev");
    expect(STACKS.find((s) => s.stack === "dev")!.config!["panopticon:environment"]).toBe("local");
  });
});
