import * as path from "path";
import { PROJECT_DIR, ProgramRun, RecordedResource, runProgram } from "./harness";
import {
  CONTAINER,
  IMAGE,
  LOCAL_RULES,
  noPlainSecret,
  serviceContainers,
  stackScopedNames,
  VOLUME,
} from "./rules";

const SERVICES = [
  "evaluation-storage",
  "judge-service",
  "model-registry",
  "postgres",
  "query-storage",
];
const MOUNTS: Record<string, { set: string; path: string; bindDir: string }> = {
  postgres: { set: "postgres", path: "/var/lib/postgresql/data", bindDir: "postgres" },
  "judge-service": { set: "judge", path: "/app/data", bindDir: "judge_service" },
  "query-storage": { set: "query", path: "/app/data", bindDir: "query_storage" },
  "evaluation-storage": { set: "evaluation", path: "/app/data", bindDir: "evaluation_storage" },
  "model-registry": { set: "model_registry", path: "/app/models", bindDir: "model_registry" },
};
const PASSWORD = "pw-Zq81-very-secret";

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

describe.each(["volume", "bind"] as const)("dev stack, storageMode %s", (mode) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({
      stack: "dev",
      config: { storageMode: mode },
      secrets: { postgresPassword: PASSWORD },
    });
    if (run.error) throw run.error;
  });

  test("registers the five services on one network", () => {
    const names = serviceContainers(run.resources)
      .map((c) => c.plainInputs.name)
      .sort();
    expect(names).toEqual(SERVICES.map((s) => `panopticon-dev-${s}`));
    const nets = run.byType("docker:index/network:Network");
    expect(nets).toHaveLength(1);
    for (const c of serviceContainers(run.resources)) {
      const na = c.plainInputs.networksAdvanced as Array<{ name: string; aliases: string[] }>;
      expect(na).toEqual([{ name: "panopticon-dev-net", aliases: [expect.any(String)] }]);
    }
  });

  test("every data set is mounted at its path from retained storage", () => {
    for (const svc of SERVICES) {
      const m = MOUNTS[svc];
      const mounts = mountsOf(containerOf(run, svc));
      expect(mounts).toHaveLength(1);
      expect(mounts[0].target).toBe(m.path);
      if (mode === "volume") {
        expect(mounts[0]).toEqual({
          type: "volume",
          source: `panopticon-dev-${m.set.replace(/_/g, "-")}-data`,
          target: m.path,
        });
      } else {
        expect(mounts[0]).toEqual({
          type: "bind",
          source: path.join(PROJECT_DIR, "data", m.bindDir),
          target: m.path,
        });
      }
    }
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
      const judgeInit = inits.find((c) => c.plainInputs.name === "panopticon-dev-judge-init")!;
      expect((judgeInit.plainInputs.command as string[]).join(" ")).toContain("chown 1000:1000");
    });
  }

  test("postgres stops with SIGINT, has pg_isready, and services start after it is healthy", () => {
    const pg = containerOf(run, "postgres");
    expect(pg.plainInputs.stopSignal).toBe("SIGINT");
    expect(pg.plainInputs.wait).toBe(true);
    expect((pg.plainInputs.healthcheck as { tests: string[] }).tests.join(" ")).toContain(
      "pg_isready",
    );
    expect(pg.plainInputs.restart).toBe("unless-stopped");
    for (const svc of SERVICES.filter((s) => s !== "postgres")) {
      const c = containerOf(run, svc);
      expect(c.dependencies).toContain(pg.urn);
      expect(Number(c.plainInputs.stopTimeout)).toBeGreaterThanOrEqual(60);
    }
  });

  test("app services receive the connection settings; the password only as a secret", () => {
    const judge = containerOf(run, "judge-service");
    const env = judge.plainInputs.envs as string[];
    expect(env).toEqual(
      expect.arrayContaining([
        "POSTGRES_HOST=postgres",
        "POSTGRES_PORT=5432",
        "POSTGRES_DB=panopticon",
        "POSTGRES_USER=panopticon",
        `POSTGRES_PASSWORD=${PASSWORD}`,
      ]),
    );
    expect(judge.inputs.envs).toEqual(expect.objectContaining({ value: env })); // secret wrapper
    expect(env).toEqual([...env].sort());
  });

  test("images are pinned by RemoteImage.imageId and kept locally", () => {
    const images = run.byType(IMAGE);
    for (const c of serviceContainers(run.resources)) {
      expect(String(c.plainInputs.image)).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(images.every((i) => i.plainInputs.keepLocally === true)).toBe(true);
  });

  test("outputs: endpoints on loopback, volumes, secret connection string, protection summary", () => {
    expect(run.outputs.endpoints).toEqual({
      postgres: "127.0.0.1:5432",
      "judge-service": "127.0.0.1:8001",
      "query-storage": "127.0.0.1:8002",
      "evaluation-storage": "127.0.0.1:8003",
      "model-registry": "127.0.0.1:8004",
    });
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
      `postgresql://panopticon:${PASSWORD}@127.0.0.1:5432/panopticon`,
    );
    expect(run.secretOutputs).toEqual(["connectionString"]);
    expect(String(run.outputs.protection)).toContain("retained");
  });
});

describe("names, ports and passwords across stacks and settings", () => {
  test("another stack on the same host shares no physical name", async () => {
    const dev = await runProgram({ stack: "dev" });
    const staging = await runProgram({ stack: "staging" });
    const names = (r: ProgramRun) =>
      r.resources
        .filter((x) => x.custom && x.type !== IMAGE && typeof x.plainInputs.name === "string")
        .map((x) => x.plainInputs.name as string);
    const shared = names(dev).filter((n) => names(staging).includes(n));
    expect(shared).toEqual([]);
    expect(stackScopedNames("staging")(staging.resources)).toEqual([]);
  });

  test("a generated password is never plain in any input", async () => {
    const run = await runProgram({ stack: "dev" });
    const pw = run.byType("random:index/randomPassword:RandomPassword");
    expect(pw).toHaveLength(1);
    const generated = String(run.outputs.connectionString).match(/panopticon:([^@]+)@/)![1];
    expect(generated.length).toBeGreaterThan(10);
    expect(noPlainSecret(generated)(run.resources)).toEqual([]);
  });

  test("bindAddress from config replaces loopback, and the loopback rule catches it", async () => {
    const run = await runProgram({ stack: "dev", config: { bindAddress: "0.0.0.0" } });
    const pg = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres")!;
    expect((pg.plainInputs.ports as Array<{ ip: string }>)[0].ip).toBe("0.0.0.0");
    expect(LOCAL_RULES.loopbackPorts(run.resources)).toHaveLength(5);
  });

  test("hostPort false publishes nothing", async () => {
    const run = await runProgram({
      stack: "dev",
      config: { services: { postgres: { hostPort: false } } },
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
    const run = await runProgram({ stack: "dev", config: { adoptComposeVolumes: true } });
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
      config: { volumeNames: { postgres: "legacy_pg", judge: "legacy_judge" } },
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
      config: { storageMode: "bind", dataDir: "/srv/panopticon/data" },
    });
    if (run.error) throw run.error;
    const pg = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres")!;
    expect(mountsOf(pg)[0].source).toBe("/srv/panopticon/data/postgres");
    const init = run.resources.find((r) => r.plainInputs.name === "panopticon-dev-postgres-init")!;
    // An existing directory keeps its owner and content: creation is conditional.
    expect((init.plainInputs.command as string[])[2]).toMatch(/^set -eu; if \[ ! -d /);
  });
});

describe("bad config registers nothing", () => {
  const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      "unknown storage mode",
      { storageMode: "nfs" },
      /panopticon:storageMode = "nfs": expected "volume" or "bind"/,
    ],
    [
      "bad port",
      { services: { postgres: { hostPort: 70000 } } },
      /services\.postgres\.hostPort = 70000: expected an integer port/,
    ],
    [
      "port as text",
      { services: { postgres: { port: "5432x" } } },
      /services\.postgres\.port = "5432x": expected an integer port/,
    ],
    [
      "missing image",
      { services: { extra: { port: 80 } } },
      /services\.extra\.image = \(missing\): expected a container image/,
    ],
    [
      "empty image",
      { services: { postgres: { image: "" } } },
      /services\.postgres\.image = "": expected a container image reference/,
    ],
    [
      "duplicate volume name",
      { volumeNames: { postgres: "same", judge: "same" } },
      /duplicate volume name "same" used by both "judge" and "postgres"/,
    ],
    ["unknown key", { storagemode: "bind" }, /panopticon:storagemode is not a known setting/],
    [
      "non-IP bind address",
      { bindAddress: "localhost" },
      /bindAddress = "localhost": expected an IP address/,
    ],
    [
      "short stop grace",
      { stopGraceSeconds: 10 },
      /stopGraceSeconds = 10: expected an integer number of seconds, at least 60/,
    ],
    [
      "reserved env",
      { services: { "judge-service": { env: { POSTGRES_PASSWORD: "x" } } } },
      /env\.POSTGRES_PASSWORD: name "POSTGRES_PASSWORD" is reserved/,
    ],
    [
      "unknown data set",
      { volumeNames: { judges: "x" } },
      /volumeNames\.judges = "x": no data set "judges"/,
    ],
    [
      "duplicate host port",
      { services: { "judge-service": { hostPort: 5432 } } },
      /duplicate published port "5432"/,
    ],
    [
      "unknown environment",
      { environment: "gcp" },
      /environment = "gcp": expected "local" or "aws"/,
    ],
  ];

  test.each(BAD)("%s", async (_label, config, message) => {
    const run = await runProgram({ stack: "dev", config });
    expect(run.error?.name).toBe("ConfigError");
    expect(run.error?.message).toMatch(message);
    expect(run.error?.message).toContain('stack "dev" (nothing was created or changed)');
    expect(run.resources).toEqual([]);
  });
});
