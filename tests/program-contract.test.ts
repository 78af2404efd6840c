import * as path from "path";
import {
  cliStackConfig,
  PROJECT_DIR,
  ProgramRun,
  RecordedResource,
  runProgram,
} from "./support/harness";
import { ContractRow, LAYOUTS, SECRET_VARIABLES } from "./support/compose-contract";
import { FixtureLayout, makeCheckout } from "./support/checkouts";
import { BUILD } from "./support/image-rules";
import {
  CONTAINER,
  dataWhereRead,
  IMAGE,
  LOCAL_RULES,
  noPlainSecret,
  serviceContainers,
} from "./support/rules";

/*
 * The dev program against the compose contract (tests/support/compose-contract.ts), service
 * by service, for both layouts a checkout can have (each a fixture checkout whose
 * docker-compose.yml the program reads), in the three ways a stack finds its data:
 * new stack-scoped volumes, the compose-era external volumes (DB_PERSISTENCE.md),
 * and an old checkout's ./data directories (BIND_MOUNT_README.md).
 */

const PASSWORD = "compose-era-pw-7Qx";
const KEYS: Record<string, string> = {
  apiKey: "api-key-secret-1",
  openaiApiKey: "sk-openai-secret-2",
  googleApiKey: "google-secret-3",
  anthropicApiKey: "anthropic-secret-4",
  // litellmApiKey left unset: declared empty, as compose does.
};
const VALUE_OF: Record<string, string> = {
  API_KEY: KEYS.apiKey,
  OPENAI_API_KEY: KEYS.openaiApiKey,
  GOOGLE_API_KEY: KEYS.googleApiKey,
  ANTHROPIC_API_KEY: KEYS.anthropicApiKey,
  LITELLM_API_KEY: "",
};
const OLD_CHECKOUT = "../old-panopticon/data";

type Rows = Readonly<Record<string, ContractRow>>;
const dataOf = (rows: Rows, set: string) =>
  Object.values(rows).find((r) => r.data?.set === set)!.data!;
const MODES = {
  volume: {
    config: {},
    source: (_rows: Rows, set: string) => `panopticon-dev-${set.replace(/_/g, "-")}-data`,
  },
  "compose volumes": {
    config: { adoptComposeVolumes: true },
    source: (rows: Rows, set: string) => dataOf(rows, set).composeVolume,
  },
  bind: {
    config: { storageMode: "bind", dataDir: OLD_CHECKOUT },
    source: (rows: Rows, set: string) =>
      path.resolve(PROJECT_DIR, OLD_CHECKOUT, dataOf(rows, set).bindDir),
  },
} as const;
const CHECKOUT: Record<keyof typeof LAYOUTS, FixtureLayout> = {
  "compose era (e342b64)": "compose-era",
  "release 0.1 (e9165f3)": "release-0.1",
};
const CASES = Object.entries(LAYOUTS).flatMap(([layout, rows]) =>
  Object.entries(MODES).map(([mode, m]) => [layout, mode, rows, m] as const),
);

/** Pulumi.dev.yaml as the CLI hands it over, with the mode's keys on top. */
function devConfig(over: Record<string, unknown>, appSource?: string): Record<string, unknown> {
  const prefixed = Object.fromEntries(Object.entries(over).map(([k, v]) => [`panopticon:${k}`, v]));
  const source = appSource === undefined ? {} : { "panopticon:appSource": appSource };
  return { ...cliStackConfig("dev"), ...source, ...prefixed };
}

function container(run: ProgramRun, service: string): RecordedResource {
  const found = serviceContainers(run.resources).filter(
    (c) => c.plainInputs.name === `panopticon-dev-${service}`,
  );
  expect(found).toHaveLength(1);
  return found[0];
}

const DB_KEYS = [
  "DATABASE_URL",
  "POSTGRES_HOST",
  "POSTGRES_PORT",
  "POSTGRES_USER",
  "POSTGRES_PASSWORD",
  "POSTGRES_DB",
];

const envOf = (c: RecordedResource) =>
  Object.fromEntries(
    (c.plainInputs.envs as string[]).map((l) => [
      l.slice(0, l.indexOf("=")),
      l.slice(l.indexOf("=") + 1),
    ]),
  );

describe.each(CASES)("%s, dev stack, %s: the compose contract", (layout, _mode, CONTRACT, m) => {
  const CONTRACT_SERVICES = Object.keys(CONTRACT).sort();
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({
      stack: "dev",
      config: devConfig(m.config, makeCheckout(CHECKOUT[layout as keyof typeof LAYOUTS])),
      secrets: { postgresPassword: PASSWORD, ...KEYS },
    });
    if (run.error) throw run.error;
  });

  test("exactly the seven compose services, each reachable by its compose name", () => {
    const names = serviceContainers(run.resources).map((c) => c.plainInputs.name);
    expect(names.sort()).toEqual(CONTRACT_SERVICES.map((s) => `panopticon-dev-${s}`));
    for (const s of CONTRACT_SERVICES) {
      expect(container(run, s).plainInputs.networksAdvanced).toEqual([
        { name: "panopticon-dev-net", aliases: [s] },
      ]);
    }
  });

  test.each(CONTRACT_SERVICES)(
    "%s: ports, restart, limits and healthcheck as compose has them",
    (s) => {
      const row = CONTRACT[s];
      const c = container(run, s).plainInputs;
      expect(c.ports).toEqual([
        { internal: row.port, external: row.hostPort, ip: "127.0.0.1", protocol: "tcp" },
      ]);
      expect(c.restart).toBe("unless-stopped");
      expect(c.cpus).toBe(row.cpus);
      expect(c.memory).toBe(row.memoryMb);
      const hc = c.healthcheck as {
        tests: string[];
        interval: string;
        timeout: string;
        retries: number;
        startPeriod: string;
      };
      expect(hc.tests.join(" ")).toMatch(row.health.test);
      expect([hc.interval, hc.timeout, hc.retries, hc.startPeriod]).toEqual(row.health.timings);
    },
  );

  test.each(CONTRACT_SERVICES)(
    "%s: its data set is mounted where it reads, from the mode's source",
    (s) => {
      const row = CONTRACT[s];
      const c = container(run, s);
      const mounts = c.plainInputs.mounts as Array<{
        type: string;
        source: string;
        target: string;
      }>;
      if (row.data === undefined) {
        expect(mounts).toEqual([]);
        return;
      }
      expect(mounts).toEqual([
        {
          type: _mode === "bind" ? "bind" : "volume",
          source: m.source(CONTRACT, row.data.set),
          target: row.data.path,
        },
      ]);
      if (row.data.persistEnv) expect(envOf(c)[row.data.persistEnv]).toBe(row.data.path);
    },
  );

  test.each(CONTRACT_SERVICES)(
    "%s: compose's variables, URLs and secrets; the database only where compose gives it",
    (s) => {
      const row = CONTRACT[s];
      const c = container(run, s);
      const env = envOf(c);
      for (const [k, v] of Object.entries(row.env)) expect({ [k]: env[k] }).toEqual({ [k]: v });
      // Nothing beyond compose's variables, the secrets, the database and the persist variable.
      const allowed = new Set([
        ...Object.keys(row.env),
        ...row.secrets,
        ...(row.database || s === "postgres" ? DB_KEYS : []),
        ...(row.data?.persistEnv ? [row.data.persistEnv] : []),
      ]);
      expect(Object.keys(env).filter((k) => !allowed.has(k))).toEqual([]);
      for (const v of SECRET_VARIABLES) {
        expect({ [v]: env[v] }).toEqual({ [v]: row.secrets.includes(v) ? VALUE_OF[v] : undefined });
      }
      if (s !== "postgres") {
        for (const k of DB_KEYS) expect({ [k]: k in env }).toEqual({ [k]: row.database });
        if (row.database) {
          expect(env.DATABASE_URL).toBe(
            `postgresql://postgres:${PASSWORD}@postgres:5432/panopticon`,
          );
        }
      } else {
        expect(env.POSTGRES_PASSWORD).toBe(PASSWORD);
      }
      // Anything secret makes the whole env list a secret in state.
      if (row.secrets.length > 0 || row.database || s === "postgres") {
        expect(c.inputs.envs).toEqual(expect.objectContaining({ value: c.plainInputs.envs }));
      }
    },
  );

  test.each(CONTRACT_SERVICES)("%s: starts after what compose's depends_on names", (s) => {
    const c = container(run, s);
    for (const dep of CONTRACT[s].dependsOn) {
      expect({ dep, waits: c.dependencies.includes(container(run, dep).urn) }).toEqual({
        dep,
        waits: true,
      });
    }
  });

  test("postgres is 15 with pgvector, healthy first, labelled with its major", () => {
    const pg = container(run, "postgres");
    expect(pg.plainInputs.wait).toBe(true);
    expect(pg.plainInputs.stopSignal).toBe("SIGINT");
    const image = run.byType(IMAGE).find((i) => i.name === "panopticon-postgres-image")!;
    // Dev builds from a checkout: Postgres too, from compose's postgres/Dockerfile
    // (postgres:15 + pgvector), and the container runs that build.
    const build = run.byType(BUILD).find((b) => image.dependencies.includes(b.urn));
    expect(build?.plainInputs.dockerfile).toEqual({
      location: expect.stringMatching(/\/postgres\/Dockerfile$/),
    });
    expect(pg.plainInputs.labels).toEqual(
      expect.arrayContaining([{ label: "com.panopticon.postgres-major", value: "15" }]),
    );
  });

  test("safety rules hold, and no secret is plain anywhere", () => {
    for (const [rule, check] of Object.entries({ ...LOCAL_RULES, dataWhereRead })) {
      expect({ rule, violations: check(run.resources) }).toEqual({ rule, violations: [] });
    }
    for (const v of [PASSWORD, ...Object.values(KEYS)]) {
      expect(noPlainSecret(v)(run.resources)).toEqual([]);
    }
  });

  test("outputs an endpoint for each of the seven services", () => {
    expect(run.outputs.endpoints).toEqual(
      Object.fromEntries(CONTRACT_SERVICES.map((s) => [s, `127.0.0.1:${CONTRACT[s].hostPort}`])),
    );
    expect(JSON.stringify(run.outputs)).not.toMatch(/secret-\d/);
  });
});

test("a container that reads its data elsewhere than its mount breaks dataWhereRead", async () => {
  const run = await runProgram({
    stack: "dev",
    config: devConfig({}),
    secrets: { postgresPassword: PASSWORD },
  });
  const broken = run.resources.map((r) =>
    r.type === CONTAINER && r.plainInputs.name === "panopticon-dev-query-storage"
      ? {
          ...r,
          plainInputs: {
            ...r.plainInputs,
            envs: (r.plainInputs.envs as string[]).map((l) =>
              l.startsWith("CHROMA_PERSIST_DIRECTORY=")
                ? "CHROMA_PERSIST_DIRECTORY=/app/data/chroma"
                : l,
            ),
          },
        }
      : r,
  );
  expect(dataWhereRead(broken)).toEqual([
    'panopticon-query-storage-container: CHROMA_PERSIST_DIRECTORY = "/app/data/chroma" but the data set is mounted at "/app/query_storage_data"',
  ]);
});

describe("prod (Docker host on AWS): the same secrets, never plain", () => {
  test("API keys reach the containers as secrets; no input, user data or output holds one in clear", async () => {
    const run = await runProgram({
      stack: "prod",
      config: cliStackConfig("prod"),
      secrets: KEYS,
    });
    if (run.error) throw run.error;
    for (const v of Object.values(KEYS)) {
      expect(noPlainSecret(v)(run.resources)).toEqual([]);
      expect(JSON.stringify(run.outputs)).not.toContain(v);
    }
    const prodJudge = serviceContainers(run.resources).find(
      (c) => c.plainInputs.name === "panopticon-prod-judge-service",
    )!;
    expect(prodJudge.plainInputs.envs).toEqual(
      expect.arrayContaining([`OPENAI_API_KEY=${KEYS.openaiApiKey}`, "API_KEY=" + KEYS.apiKey]),
    );
    expect(prodJudge.inputs.envs).toEqual(
      expect.objectContaining({ value: prodJudge.plainInputs.envs }),
    );
  });
});

describe("the later item-storage layout, by config alone", () => {
  // After the seeds, query and evaluation storage become one image run twice, kept in
  // Postgres tables, with no data volume; main-app and judge-service point at them.
  const itemStorage = (port: number, type: string, table: string) => ({
    image: "registry.test/panopticon/item-storage:2.0.0",
    build: { dockerfile: "item_storage/dockerfile" },
    port: 8000,
    hostPort: port,
    database: true,
    secrets: ["API_KEY"],
    dependsOn: ["postgres"],
    env: { PYTHONPATH: "/app", ITEM_TYPE_NAME: type, ITEM_STORAGE_TABLE: table },
    healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:8000/health"] },
  });
  const urls = {
    QUERY_STORAGE_URL: "item-storage-queries",
    EVALUATION_STORAGE_URL: "item-storage-metrics",
  };

  test("services renamed and replaced, a data set dropped; the compose-era sets it keeps stay", async () => {
    const dev = cliStackConfig("dev");
    const services = (dev["panopticon:services"] ?? {}) as Record<string, Record<string, unknown>>;
    const run = await runProgram({
      stack: "dev",
      config: devConfig({
        adoptComposeVolumes: true,
        services: {
          ...services,
          "query-storage": false,
          "evaluation-storage": false,
          "item-storage-queries": itemStorage(8001, "query", "queries"),
          "item-storage-metrics": itemStorage(8002, "metric", "metrics"),
          "main-app": { ...services["main-app"], urls, dependsOn: Object.values(urls) },
          "judge-service": {
            ...services["judge-service"],
            urls: { ...urls, MODEL_REGISTRY_URL: "model-registry" },
            dependsOn: ["postgres", ...Object.values(urls)],
          },
        },
      }),
      secrets: { postgresPassword: PASSWORD },
    });
    if (run.error) throw run.error;
    const names = serviceContainers(run.resources).map((c) => c.plainInputs.name);
    expect(names.sort()).toEqual(
      [
        "item-storage-metrics",
        "item-storage-queries",
        "judge-service",
        "main-app",
        "model-registry",
        "postgres",
        "visualization-service",
      ].map((s) => `panopticon-dev-${s}`),
    );
    expect(envOf(container(run, "main-app"))).toMatchObject({
      QUERY_STORAGE_URL: "http://item-storage-queries:8000",
      EVALUATION_STORAGE_URL: "http://item-storage-metrics:8000",
      JUDGE_SERVICE_URL: "http://judge-service:8000",
    });
    expect(container(run, "item-storage-queries").plainInputs.mounts).toEqual([]);
    // The data sets it still holds are the compose-era volumes, untouched and retained.
    const vols = run.byType("docker:index/volume:Volume");
    expect(vols.map((v) => v.plainInputs.name).sort()).toEqual([
      "panopticon_judge_data",
      "panopticon_model_registry_data",
      "panopticon_postgres_data",
    ]);
    expect(vols.every((v) => v.retainOnDelete)).toBe(true);
    expect(dataWhereRead(run.resources)).toEqual([]);
  });
});
