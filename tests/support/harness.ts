import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { programMocks as mocks } from "../../scripts/bench/mocks";
import { composeText, FixtureLayout } from "./checkouts";
// waitForRPCs is internal to the SDK but is exactly "every registration sent so far has finished".
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as {
  waitForRPCs: () => Promise<void>;
};

export const PROGRAM = path.resolve(__dirname, "..", "..", "index.ts");
// No program run under mocks asks this machine's engine about its volumes: whether a
// test passes must not depend on what a developer's own stacks left behind.
process.env.PANOPTICON_ENGINE_PROBE = "off";
export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** The Panopticon-shaped checkout the tests build from (a stack's appSource stands for it). */
export const FIXTURE_SOURCE = path.join(__dirname, "..", "fixtures", "panopticon-src");

/**
 * The config the Pulumi CLI hands the program for a stack: Pulumi.yaml's declared
 * defaults (applied to every stack, as `panopticon:<key>`) under the stack file's
 * own values. Secure values are left out (pass them as `secrets`). A stack that builds
 * from a checkout (`panopticon:appSource`) gets the fixture checkout instead, so the
 * tests neither need a clone of Panopticon nor depend on which commit it is at.
 */
export function cliStackConfig(stack: string, dir = PROJECT_DIR): Record<string, unknown> {
  const project = parseYaml(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, { default?: unknown }>;
  };
  const file = parseYaml(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) as {
    config?: Record<string, unknown>;
  };
  const out: Record<string, unknown> = {};
  for (const [k, decl] of Object.entries(project.config ?? {})) {
    if (decl.default !== undefined) out[`panopticon:${k}`] = decl.default;
  }
  for (const [k, v] of Object.entries(file.config ?? {})) {
    if (typeof v === "object" && v !== null && "secure" in v) continue;
    out[k.includes(":") ? k : `panopticon:${k}`] = v;
  }
  if (typeof out["panopticon:appSource"] === "string") out["panopticon:appSource"] = FIXTURE_SOURCE;
  // A stack without a checkout (prod) runs what was promoted to it: the tests promote
  // the fixture's compose-era layout with a digest per service, as npm run promote would.
  if (out["panopticon:appSource"] === undefined && out["panopticon:release"] === undefined) {
    Object.assign(out, promotedRelease("compose-era", out["panopticon:services"]));
  }
  return out;
}

/**
 * A stack file of this project as parsed YAML, with the release the tests promote to
 * a stack that has no checkout (see cliStackConfig).
 */
export function promotedStackFile(
  file: string,
  dir = PROJECT_DIR,
): { config: Record<string, unknown> } {
  const doc = parseYaml(fs.readFileSync(path.join(dir, file), "utf8")) as {
    config: Record<string, unknown>;
  };
  const c = doc.config;
  if (c["panopticon:appSource"] === undefined && c["panopticon:release"] === undefined) {
    Object.assign(c, promotedRelease("compose-era", c["panopticon:services"]));
  }
  return doc;
}

/** A stand-in digest for one promoted service (never pulled under mocks). */
export function fakeDigest(service: string): string {
  const hex = Buffer.from(service.padEnd(32, "0")).toString("hex").slice(0, 64);
  return `registry.example/panopticon/${service}@sha256:${hex}`;
}

/**
 * What `npm run promote` writes into a stack file: the release (compose file and
 * source) and one digest per service compose builds, except the database (RDS).
 * Services the stack already configures keep their settings.
 */
export function promotedRelease(
  layout: FixtureLayout,
  services: unknown = {},
): Record<string, unknown> {
  const compose = parseYaml(composeText(layout)) as { services: Record<string, unknown> };
  const own = (services ?? {}) as Record<string, Record<string, unknown> | false>;
  const promoted: Record<string, unknown> = { ...own };
  for (const name of Object.keys(compose.services)) {
    if (name === "postgres" || own[name] === false) continue;
    promoted[name] = { image: fakeDigest(name), ...(own[name] || {}) };
  }
  return {
    "panopticon:release": { source: { commit: "0".repeat(40), dirty: false }, compose },
    "panopticon:services": promoted,
  };
}

/** One resource registration exactly as the engine's monitor received it. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** The URN the monitor assigned (dependencies and parents refer to it). */
  urn: string;
  readonly custom: boolean;
  /** Inputs as sent (Struct → JS); secrets are `{[specialSigKey]: specialSecretSig, value}` wrappers. */
  readonly inputs: Record<string, unknown>;
  /** The same inputs with secret wrappers removed (for asserting values). */
  readonly plainInputs: Record<string, unknown>;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly deleteBeforeReplace: boolean;
  readonly ignoreChanges: string[];
  readonly replaceOnChanges: string[];
  readonly dependencies: string[];
  readonly parent: string;
  readonly provider: string;
  readonly importId: string;
  readonly additionalSecretOutputs: string[];
  /** The aliases sent: an URN, or a spec's parent URN, name and type ("" where unset). */
  readonly aliases: RecordedAlias[];
}

export interface RecordedAlias {
  readonly urn?: string;
  readonly name?: string;
  readonly type?: string;
  readonly parentUrn?: string;
  readonly noParent?: boolean;
}

export interface ProgramRun {
  readonly resources: RecordedResource[];
  /** The program's exports, resolved (secrets unwrapped). */
  readonly outputs: Record<string, unknown>;
  /** Names of exports that are secret Outputs. */
  readonly secretOutputs: string[];
  /** The error the program threw, if any (e.g. a ConfigError). */
  readonly error?: Error;
  byType(type: string): RecordedResource[];
}

export interface RunOptions {
  readonly stack: string;
  /** Stack config; keys with or without the `panopticon:` prefix; objects are JSON-encoded like Pulumi does. */
  readonly config?: Record<string, unknown>;
  /** Secret config values (e.g. `{ postgresPassword: "..." }`). */
  readonly secrets?: Record<string, string>;
  readonly preview?: boolean;
  readonly program?: string;
}

export function isSecretWrapper(v: unknown): v is { value: unknown } {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as Record<string, unknown>)[specialSigKey] === specialSecretSig
  );
}

export function unwrapSecrets(v: unknown): unknown {
  if (isSecretWrapper(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** Every string that appears in `v` outside a secret wrapper. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
  if (isSecretWrapper(v)) return out;
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
  else if (v !== null && typeof v === "object")
    Object.values(v).forEach((x) => plainStrings(x, out));
  return out;
}

function toConfigMap(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    const key = k.includes(":") ? k : `panopticon:${k}`;
    out[key] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function recordedAliases(req: any): RecordedAlias[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (req.getAliasesList() as any[]).map((a) => {
    if (a.hasUrn()) return { urn: a.getUrn() as string };
    const spec = a.getSpec();
    return {
      name: spec.getName() || undefined,
      type: spec.getType() || undefined,
      parentUrn: spec.getParenturn() || undefined,
      noParent: spec.getNoparent() || undefined,
    };
  });
}

/**
 * Runs the Pulumi program under Pulumi's mocks for one stack config and records
 * every resource registration as the monitor receives it, options included
 * (the mocks' newResource callback never sees options: pulumi/pulumi#14421).
 */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
  await pulumi.runtime.setMocks(mocks, "panopticon", opts.stack, opts.preview ?? false);
  const recorded: RecordedResource[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  monitor.registerResource = (req: any, callback: any) => {
    const inputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const rec = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      custom: req.getCustom(),
      inputs,
      plainInputs: unwrapSecrets(inputs) as Record<string, unknown>,
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
      ignoreChanges: req.getIgnorechangesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      dependencies: req.getDependenciesList(),
      parent: req.getParent(),
      provider: req.getProvider(),
      importId: req.getImportid(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      aliases: recordedAliases(req),
    };
    recorded.push(rec);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return register(req, (err: any, resp: any) => {
      if (resp) rec.urn = resp.getUrn();
      callback(err, resp);
    });
  };

  const secretKeys = Object.keys(opts.secrets ?? {}).map((k) => `panopticon:${k}`);
  pulumi.runtime.setAllConfig(
    toConfigMap({ ...(opts.config ?? {}), ...(opts.secrets ?? {}) }),
    secretKeys,
  );

  let exported: Record<string, unknown> = {};
  let error: Error | undefined;
  jest.isolateModules(() => {
    try {
      exported = require(opts.program ?? PROGRAM);
    } catch (e) {
      error = e as Error;
    }
  });

  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  if (!error) {
    for (const [k, v] of Object.entries(exported)) {
      const out = pulumi.output(v);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const internal = out as any;
      outputs[k] = await internal.promise();
      if (await internal.isSecret) secretOutputs.push(k);
    }
  }
  // Registrations not reachable from the exports (e.g. initialisers) finish here.
  let before = -1;
  while (before !== recorded.length) {
    before = recorded.length;
    await waitForRPCs();
    await new Promise((r) => setImmediate(r));
  }
  return {
    resources: recorded,
    outputs,
    secretOutputs,
    error,
    byType: (type) => recorded.filter((r) => r.type === type),
  };
}
