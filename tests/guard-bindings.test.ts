import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GuardResult, runGuard } from "../scripts/guard/run";
import { makeCheckout } from "./support/checkouts";
import { cliStackConfig, ProgramRun, runProgram } from "./support/harness";
import { eventLog, previewDigest } from "./support/preview-builder";

/*
 * The guard on previews built from two runs of the program under mocks (the
 * state, then the change), in both of Pulumi's formats: a change that keeps every
 * stateful resource but leaves a service without its data is at risk.
 */

const PASSWORD = "pw-Zq81-very-secret";
// Each case runs the whole program twice under mocks.
jest.setTimeout(60_000);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "guard-bindings-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

type Json = Record<string, unknown>;

/** The dev stack file as the CLI hands it over, with `patch` merged in (services per service). */
function devConfig(patch: Json): Json {
  const config = cliStackConfig("dev");
  for (const [k, v] of Object.entries(patch)) {
    const key = `panopticon:${k}`;
    if (k === "services") {
      const services = structuredClone((config[key] ?? {}) as Record<string, Json | false>);
      for (const [name, over] of Object.entries(v as Record<string, Json | false>)) {
        services[name] = over === false ? false : { ...services[name], ...over };
      }
      config[key] = services;
    } else {
      config[key] = v;
    }
  }
  return config;
}

async function run(stack: string, patch: Json): Promise<ProgramRun> {
  const config = devConfig(patch);
  const r = await runProgram({ stack, config, secrets: { postgresPassword: PASSWORD } });
  if (r.error) throw r.error;
  return r;
}

let n = 0;
/** The guard on the preview from `before` to `after`, given as a PreviewDigest or an event log. */
function guard(
  before: ProgramRun,
  after: ProgramRun,
  format: "json" | "events",
  extra: { markdown?: boolean; allow?: string[] } = {},
): GuardResult {
  const file = path.join(TMP, `preview-${n++}.${format === "json" ? "json" : "log"}`);
  fs.writeFileSync(
    file,
    format === "json" ? previewDigest(before, after) : eventLog(before, after),
  );
  return runGuard({
    ...(format === "json" ? { preview: [file] } : { eventLog: [file] }),
    ...extra,
  });
}

const BIND = { storageMode: "bind", dataDir: "/srv/panopticon-a" };

describe.each(["json", "events"] as const)("data bindings in a preview (%s)", (format) => {
  it("a moved dataDir detaches every bind-mode service: at risk, exit 1, old and new source named", async () => {
    const before = await run("dev", BIND);
    const after = await run("dev", { ...BIND, dataDir: "/srv/panopticon-b" });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/AT RISK\s+detached: the service starts without its data\s+container/);
    expect(r.stdout).toContain("/srv/panopticon-a/query_storage");
    expect(r.stdout).toContain("/srv/panopticon-b/query_storage");
    expect(r.stdout).toContain("/srv/panopticon-a/postgres");
    expect(r.stdout).toMatch(/Postgres initialises an empty cluster/);
    const md = guard(before, after, format, { markdown: true }).stdout;
    expect(md).toMatch(
      /\| :x: \*\*at risk\*\* \| detached: the service starts without its data \|/,
    );
    expect(md).toMatch(
      /service query-storage .* was bound to directory \/srv\/panopticon-a\/query_storage/,
    );
    expect(md).toMatch(/To keep the data: set dataDir\/bindDir back/);
  });

  it("the same dataDir twice is no change: exit 0 (the compliant twin)", async () => {
    const before = await run("dev", BIND);
    const after = await run("dev", BIND);
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Verdict: no data at risk\./);
  });

  it("a changed mount path detaches the service even though its volume is kept", async () => {
    const before = await run("dev", {});
    const after = await run("dev", {
      services: { "query-storage": { data: { path: "/app/elsewhere" } } },
    });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /service query-storage \(data set query\) was bound to volume (\S+) at (\S+); this preview binds it to volume \1 at \/app\/elsewhere/,
    );
    expect(r.stdout).toMatch(/keep the mount path \/app\/\S+ \(the service's persist variable/);
    // The volume itself is untouched: only the binding moved.
    expect(r.stdout).not.toMatch(/AT RISK\s+replaced\s+Docker volume/);
  });

  it("a Postgres major bump on the existing data is at risk; pg-upgrade is named", async () => {
    const before = await run("dev", {
      services: { postgres: { image: "postgres:15.8-bookworm" } },
    });
    const after = await run("dev", { services: { postgres: { image: "postgres:16.4-bookworm" } } });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /AT RISK\s+Postgres major changed on existing data\s+container "\S*postgres-container"/,
    );
    expect(r.stdout).toMatch(/Postgres 15 -> 16 .*npm run pg-upgrade -- --stack dev --to 16/);
  });

  it("a Postgres minor bump keeps the major: not at risk", async () => {
    const before = await run("dev", {
      services: { postgres: { image: "postgres:16.3-bookworm" } },
    });
    const after = await run("dev", { services: { postgres: { image: "postgres:16.4-bookworm" } } });
    expect(guard(before, after, format).exitCode).toBe(0);
  });

  it("an app image bump with the same data is not at risk: exit 0", async () => {
    const before = await run("dev", {});
    const digest = "sha256:" + "1".repeat(64);
    const after = await run("dev", {
      services: {
        "query-storage": { image: `ghcr.io/panopticon-ai/query-storage:1.1.0@${digest}` },
      },
    });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/other \(stateless\) changes: .*replaced/);
    expect(r.stdout).toMatch(/Verdict: no data at risk\./);
  });

  it("a renamed volume: the volume is replaced and the service detached from the old one", async () => {
    const before = await run("dev", {});
    const after = await run("dev", { volumeNames: { query: "panopticon-dev-query-renamed" } });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/AT RISK\s+replaced\s+Docker volume/);
    expect(r.stdout).toMatch(/AT RISK\s+detached: the service starts without its data/);
    expect(r.stdout).toContain("this preview binds it to volume panopticon-dev-query-renamed");
    expect(r.stdout).toMatch(/set the volume name back to panopticon-dev-query-data/);
  });

  it("--allow on the detached container accepts that risk deliberately", async () => {
    const before = await run("dev", BIND);
    const after = await run("dev", { ...BIND, dataDir: "/srv/panopticon-b" });
    // The containers' URNs exactly as the engine assigned them.
    const urns = after
      .byType("docker:index/container:Container")
      .filter((c) => Array.isArray(c.plainInputs.mounts) && c.plainInputs.mounts.length > 0)
      .map((c) => c.urn);
    expect(urns.length).toBeGreaterThan(0);
    const r = guard(before, after, format, { allow: urns });
    expect(r.stdout).toMatch(/accepted\s+detached/);
    expect(r.exitCode).toBe(0);
  });
});

describe.each(["json", "events"] as const)("a change of layout in a preview (%s)", (format) => {
  const RELEASE_01 = makeCheckout("release-0.1");

  it("compose era -> 0.1: the data sets no service mounts and the stores no service reads are named, exit 1", async () => {
    const before = await run("dev", {});
    const after = await run("dev", { appSource: RELEASE_01 });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    for (const set of ["query", "evaluation"]) {
      expect(r.stdout).toMatch(
        new RegExp(
          `data set ${set} \\(volume panopticon-dev-${set}-data at /app/${set}_storage_data\\) was mounted by service ${set}-storage; after this change no service mounts it`,
        ),
      );
    }
    // What the compose era read, and 0.1 reads none of (it reads items_* and the llm_outputs table).
    for (const store of [
      "table queries",
      "collection evaluation_metrics in evaluation",
      "collection llm_outputs in judge",
    ]) {
      expect(r.stdout).toContain(`${store} was read by`);
    }
    expect(r.stdout).toContain("npm run migrate-data -- --stack dev");
    expect(r.stdout).not.toContain("table llm_outputs was read by");
  });

  it("0.1 -> 0.1 with a new image: every store is still read, nothing unmounted, exit 0 (the twin)", async () => {
    const before = await run("dev", { appSource: RELEASE_01 });
    const after = await run("dev", {
      appSource: RELEASE_01,
      services: { "main-app": { image: "registry.test/main-app:2" } },
    });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/no service (mounts|reads)/);
  });

  it("a removed service with a data set leaves it unmounted; one without data is a plain removal", async () => {
    const before = await run("dev", {});
    const noData = await run("dev", { services: { "visualization-service": false } });
    expect(guard(before, noData, format).exitCode).toBe(0);
    const withData = await run("dev", { services: { "model-registry": false } });
    const r = guard(before, withData, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /data set model_registry \(volume panopticon-dev-model-registry-data at \/app\/model_registry_data\) was mounted by service model-registry/,
    );
  });
});
