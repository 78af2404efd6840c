import * as path from "path";
import {
  cliStackConfig,
  PROJECT_DIR,
  ProgramRun,
  RecordedResource,
  runProgram,
} from "./support/harness";
import {
  CONTAINER,
  IMAGE,
  LOCAL_RULES,
  noPlainSecret,
  serviceContainers,
  stackScopedNames,
  VOLUME,
} from "./support/rules";

const SERVICES = [
  "evaluation-storage",
  "judge-service",
  "main-app",
  "model-registry",
  "postgres",
  "query-storage",
  "visualization-service",
];
const PASSWORD = "pw-Zq81-very-secret";
/** Pulumi.dev.yaml as the CLI hands it over (its pinned app images), plus `over`. */
const dev = (over: Record<string, unknown> = {}) => ({
  ...cliStackConfig("dev"),
  ...Object.fromEntries(Object.entries(over).map(([k, v]) => [`panopticon:${k}`, v])),
});

/** The dev stack file's services block (its pinned images). */
const devServices = () => cliStackConfig("dev")["panopticon:services"] as Record<string, unknown>;

/** The dev services with `over` merged into each service's block (false removes one). */
function withServices(over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...devServices() };
  for (const [name, v] of Object.entries(over)) {
    out[name] = v === false ? false : { ...((out[name] as object) ?? {}), ...(v as object) };
  }
  return out;
}

function containerOf(run: ProgramRun, service: string): RecordedResource {
  const found = serviceContainers(run.resources).filter(
    (c) => c.plainInputs.name === `panopticon-${run.resources[0] ? stackOf(run) : ""}-${service}`,
  );
  expect(found).toHaveLength(1);
  return found[0];
}

function stackOf(run: ProgramRun): string {
  const net = run.byType("docker:index/network:Network")[0];
  return String(net.plainInputs.name)
    .replace(/^panopticon-/, "")
    .replace(/-net$/, "");
}

function mountsOf(c: RecordedResource): Array<{ type: string; source: string; target: string }> {
  return c.plainInputs.mounts as Array<{ type: string; source: string; target: string }>;
}

// Services, ports, mounts, env, secrets, limits and start order: program-contract.test.ts.
describe.each(["volume", "bind"] as const)("dev stack, storageMode %s", (mode) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({
      stack: "dev",
      config: dev({ storageMode: mode }),
      secrets: { postgresPassword: PASSWORD },
    });
    if (run.error) throw run.error;
  });

  test("safety rules hold on what reached the engine", () => {
    for (const [rule, check] of Object.entries(LOCAL_RULES)) {
      expect({ rule, violations: check(run.resources) }).toEqual({ rule, violations: [] });
    }
    expect(stackScopedNames("dev")(run.resources)).toEqual([]);
    expect(noPlainSecret(PASSWORD)(run.resources)).toEqual([]);
  });

  if (mode === "volume") {
    test("five retained, stack-scoped volumes, no host directories", () => {
      const vols = run.byType(VOLUME);
      expect(vols.map((v) => v.plainInputs.name).sort()).toEqual(
        ["evaluation", "judge", "model-registry", "postgres", "query"].map(
          (s) => `panopticon-dev-${s}-data`,
        ),
      );
      for (const v of vols) {
        expect(v.retainOnDelete).toBe(true);
        expect(v.protect).toBe(false); // local stacks stay destroyable
        expect(v.ignoreChanges).toEqual(expect.arrayContaining(["labels", "driverOpts"]));
      }
      expect(run.resources.filter((r) => String(r.plainInputs.name).endsWith("-init"))).toEqual([]);
    });
  } else {
    test("bind directories are created with the image's owner, never world-writable", () => {
      expect(run.byType(VOLUME)).toEqual([]);
      const inits = run
        .byType(CONTAINER)
        .filter((c) => String(c.plainInputs.name).endsWith("-init"));
      expect(inits).toHaveLength(5);
      const pgInit = inits.find((c) => c.plainInputs.name === "panopticon-dev-postgres-init")!;
      const script = (pgInit.plainInputs.command as string[]).join(" ");
      expect(script).toContain('mkdir -p "/host/postgres"');
      expect(script).toContain('chown 999:999 "/host/postgres"');
      expect(script).toContain('chmod o-w "/host/postgres"');
      expect(script).not.toMatch(/777|o\+w|a\+w/);
      expect(pgInit.plainInputs.volumes).toEqual([
        { hostPath: path.join(PROJECT_DIR, "data"), containerPath: "/host" },
      ]);
      expect(pgInit.plainInputs.mustRun).toBe(false);
      // Each service waits for its directory.
      const pg = containerOf(run, "postgres");
      expect(pg.dependencies).toContain(pgInit.urn);
      // The compose images run as root.
      const judgeInit = inits.find((c) => c.plainInputs.name === "panopticon-dev-judge-init")!;
      expect((judgeInit.plainInputs.command as string[]).join(" ")).toContain(
        'chown 0:0 "/host/judge_service"',
      );
    });
  }

  test("every app waits for a healthy postgres, directly or through its dependencies", () => {
    const pg = containerOf(run, "postgres");
    expect(pg.plainInputs.wait).toBe(true);
    const byUrn = new Map(serviceContainers(run.resources).map((c) => [c.urn, c]));
    const reaches = (c: RecordedResource, seen = new Set<string>()): boolean =>
      c.dependencies.some(
        (d) =>
          d === pg.urn ||
          (!seen.has(d) && byUrn.has(d) && (seen.add(d), reaches(byUrn.get(d)!, seen))),
      );
    // main-app and evaluation-storage have no database dependency in compose.
    for (const svc of [
      "judge-service",
      "model-registry",
      "query-storage",
      "visualization-service",
    ]) {
      expect({ svc, waits: reaches(containerOf(run, svc)) }).toEqual({ svc, waits: true });
    }
    for (const svc of SERVICES) {
      expect(Number(containerOf(run, svc).plainInputs.stopTimeout)).toBeGreaterThanOrEqual(60);
    }
  });

  test("images are pinned by RemoteImage.imageId and kept locally", () => {
    const images = run.byType(IMAGE);
    for (const c of serviceContainers(run.resources)) {
      expect(String(c.plainInputs.image)).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(images.every((i) => i.plainInputs.keepLocally === true)).toBe(true);
  });

  test("outputs: volumes, secret connection string as role postgres, protection summary", () => {
    const vols = run.outputs.volumes as Record<string, { backend: string; source: string }>;
    expect(Object.keys(vols).sort()).toEqual([
      "evaluation",
      "judge",
      "model_registry",
      "postgres",
      "query",
    ]);
    expect(vols.judge.backend).toBe(mode);
    expect(run.outputs.connectionString).toBe(
      `postgresql://postgres:${PASSWORD}@127.0.0.1:5432/panopticon`,
    );
    expect(run.secretOutputs).toEqual(["connectionString"]);
    expect(String(run.outputs.protection)).toContain("retained");
  });
});

describe("names, ports and passwords across stacks and settings", () => {
  test("another stack on the same host shares no physical name", async () => {
    const devRun = await runProgram({ stack: "dev", config: dev() });
    const staging = await runProgram({ stack: "staging", config: dev() });
    const names = (r: ProgramRun) =>
      r.resources
        .filter((x) => x.custom && x.type !== IMAGE && typeof x.plainInputs.name === "string")
        .map((x) => x.plainInputs.name as string);
    const shared = names(devRun).filter((n) => names(staging).includes(n));
    expect(shared).toEqual([]);
    expect(stackScopedNames("staging")(staging.resources)).toEqual([]);
  });

  test("a generated password is never plain in any input", async () => {
    const run = await runProgram({ stack: "dev", config: dev() });
    const pw = run.byType("random:index/randomPassword:RandomPassword");
    expect(pw).toHaveLength(1);
    const generated = String(run.outputs.connectionString).match(/postgres:([^@]+)@/)![1];
    expect(generated.length).toBeGreaterThan(10);
    expect(noPlainSecret(generated)(run.resources)).toEqual([]);
  });

  test("bindAddress from config replaces loopback, and the loopback rule catches it", async () => {
    const run = await runProgram({ stack: "dev", config: dev({ bindAddress: "0.0.0.0" }) });
    const pg = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres")!;
    expect((pg.plainInputs.ports as Array<{ ip: string }>)[0].ip).toBe("0.0.0.0");
    expect(LOCAL_RULES.loopbackPorts(run.resources)).toHaveLength(7);
  });

  test("hostPort false publishes nothing", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({ services: { ...devServices(), postgres: { hostPort: false } } }),
    });
    const pg = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres")!;
    expect(pg.plainInputs.ports).toEqual([]);
    expect((run.outputs.endpoints as Record<string, string>).postgres).toBeUndefined();
  });
});

describe("adopting compose-era data", () => {
  const COMPOSE = {
    postgres: "panopticon_postgres_data",
    judge: "panopticon_judge_data",
    query: "panopticon_query_data",
    evaluation: "panopticon_evaluation_data",
    model_registry: "panopticon_model_registry_data",
  };

  test("adoptComposeVolumes re-uses the compose volume names, retained", async () => {
    const run = await runProgram({ stack: "dev", config: dev({ adoptComposeVolumes: true }) });
    if (run.error) throw run.error;
    const vols = run.byType(VOLUME);
    expect(vols.map((v) => v.plainInputs.name).sort()).toEqual(Object.values(COMPOSE).sort());
    expect(vols.every((v) => v.retainOnDelete)).toBe(true);
    expect(LOCAL_RULES.volumesRetained(run.resources)).toEqual([]);
    const judge = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-judge-service")!;
    expect(mountsOf(judge)[0].source).toBe("panopticon_judge_data");
  });

  test("volumeNames points single data sets at existing volumes", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({ volumeNames: { postgres: "legacy_pg", judge: "legacy_judge" } }),
    });
    if (run.error) throw run.error;
    const names = run.byType(VOLUME).map((v) => v.plainInputs.name);
    expect(names).toEqual(expect.arrayContaining(["legacy_pg", "legacy_judge"]));
    expect(names).toContain("panopticon-dev-query-data");
    expect(stackScopedNames("dev", ["legacy_pg", "legacy_judge"])(run.resources)).toEqual([]);
  });

  test("bind mode adopts existing ./data directories through dataDir", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({ storageMode: "bind", dataDir: "/srv/panopticon/data" }),
    });
    if (run.error) throw run.error;
    const pg = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres")!;
    expect(mountsOf(pg)[0].source).toBe("/srv/panopticon/data/postgres");
    const init = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres-init")!;
    // An existing directory keeps its owner and content: creation is conditional.
    expect((init.plainInputs.command as string[])[2]).toMatch(/^set -eu; if \[ ! -d /);
  });
});

// Refusals of bad config, each with its accepted neighbour: tests/bad-input.test.ts.
describe("services by config", () => {
  test("a new service declares its persist variable and gets it set to its mount", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({
        services: {
          ...devServices(),
          notes: {
            image: "notes:1",
            port: 8000,
            data: { path: "/srv/notes", persistEnv: "NOTES_DIR" },
            healthcheck: { test: ["CMD", "true"] },
          },
        },
      }),
    });
    if (run.error) throw run.error;
    const notes = containerOf(run, "notes");
    expect(mountsOf(notes)).toEqual([
      { type: "volume", source: "panopticon-dev-notes-data", target: "/srv/notes" },
    ]);
    expect(notes.plainInputs.envs).toContain("NOTES_DIR=/srv/notes");
  });

  test("a service removed by config is gone, with nothing pointing at it", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({ services: { ...devServices(), "visualization-service": false } }),
    });
    if (run.error) throw run.error;
    const names = serviceContainers(run.resources).map((c) => c.plainInputs.name);
    expect(names).not.toContain("panopticon-dev-visualization-service");
    expect(names).toHaveLength(6);
  });

  test("LOG_LEVEL and the storage switches are settable per stack", async () => {
    const run = await runProgram({
      stack: "dev",
      config: dev({
        logLevel: "DEBUG",
        services: withServices({ "judge-service": { env: { JUDGE_STORAGE_TYPE: "postgres" } } }),
      }),
    });
    if (run.error) throw run.error;
    const judge = containerOf(run, "judge-service").plainInputs.envs as string[];
    expect(judge).toEqual(
      expect.arrayContaining(["LOG_LEVEL=DEBUG", "JUDGE_STORAGE_TYPE=postgres"]),
    );
    expect(containerOf(run, "main-app").plainInputs.envs).toContain("LOG_LEVEL=DEBUG");
  });
});
