import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { interpolate } from "../components/config/compose/interpolate";
import { layoutSource } from "../components/config/compose/source";
import {
  durationSeconds,
  memoryMb,
  parsePort,
  parseVolume,
} from "../components/config/compose/units";
import { parse as parseYaml } from "yaml";
import { composeText, makeCheckout, STAND_IN_SOURCE } from "./support/checkouts";
import { cliStackConfig, ProgramRun, promotedRelease, runProgram } from "./support/harness";
import { BUILD } from "./support/image-rules";
import { serviceContainers, VOLUME } from "./support/rules";

/*
 * The checkout's docker-compose.yml is the service catalogue: a layout deploys by
 * compose alone, and a compose file the program cannot translate faithfully is
 * refused (naming the service and the key) with nothing registered. Every refusal
 * has a broken twin: the same file without the bad line deploys.
 */

// Program runs under mocks take seconds on a loaded machine.
jest.setTimeout(60_000);

const PASSWORD = "layout-test-pw-9Kd";

async function devRun(compose: string, extra: Record<string, unknown> = {}): Promise<ProgramRun> {
  return runProgram({
    stack: "dev",
    config: {
      ...cliStackConfig("dev"),
      "panopticon:appSource": makeCheckout({ text: compose }),
      ...extra,
    },
    secrets: { postgresPassword: PASSWORD },
  });
}

const names = (run: ProgramRun) =>
  serviceContainers(run.resources)
    .map((c) => String(c.plainInputs.name).replace(/^panopticon-dev-/, ""))
    .sort();
const envOf = (run: ProgramRun, service: string) => {
  const c = serviceContainers(run.resources).find(
    (x) => x.plainInputs.name === `panopticon-dev-${service}`,
  )!;
  return Object.fromEntries(
    (c.plainInputs.envs as string[]).map((l) => [
      l.slice(0, l.indexOf("=")),
      l.slice(l.indexOf("=") + 1),
    ]),
  );
};

const ERA = composeText("compose-era");
/** One service's block in the compose-era file, with `edit` applied to it alone. */
function editService(service: string, edit: (block: string) => string): string {
  const start = ERA.indexOf(`\n  ${service}:\n`) + 1;
  const end = ERA.indexOf("\n\n", start);
  return ERA.slice(0, start) + edit(ERA.slice(start, end)) + ERA.slice(end);
}

test("the committed stand-in checkout holds the compose-era fixture file", () => {
  const committed = fs.readFileSync(path.join(STAND_IN_SOURCE, "docker-compose.yml"), "utf8");
  expect(parseYaml(committed)).toEqual(parseYaml(composeText("compose-era")));
});

describe("compose syntax, parsed as compose does", () => {
  test.each([
    ["${API_KEY}", "", ["API_KEY"], true],
    ["${MODEL_DEFAULT_TEMPERATURE:-0.7}", "0.7", [], false],
    ["${X-unset-only}", "unset-only", [], false],
    ["${NEEDED:?set it}", "", ["NEEDED"], true],
    ["$$literal", "$literal", [], false],
    ["$BARE", "", ["BARE"], true],
    ["http://judge-service:8000", "http://judge-service:8000", [], false],
  ])("interpolate(%j)", (text, value, unresolved, bare) => {
    expect(interpolate(text)).toEqual({ value, unresolved, bare });
  });
  test("a malformed reference is an error, not a literal", () => {
    expect(() => interpolate("${OPEN")).toThrow(/malformed variable reference/);
  });
  test("ports, volumes, durations, sizes", () => {
    expect(parsePort("8001:8000")).toEqual({ host: 8001, container: 8000, hostIp: undefined });
    expect(parsePort("127.0.0.1:8001:8000/tcp")).toEqual({
      host: 8001,
      container: 8000,
      hostIp: "127.0.0.1",
    });
    expect(parsePort("8000-8001:8000-8001")).toMatch(/no ranges/);
    expect(parsePort("53:53/udp")).toMatch(/no udp/);
    expect(parseVolume("./data/judge_service:/app/judge_service_data")).toEqual({
      kind: "bind",
      source: "./data/judge_service",
      target: "/app/judge_service_data",
      readOnly: false,
    });
    expect(parseVolume("query_data:/app/data")).toMatchObject({ kind: "volume" });
    expect(parseVolume("/anonymous")).toMatch(/anonymous volume/);
    expect([durationSeconds("30s"), durationSeconds("1m30s"), durationSeconds("soon")]).toEqual([
      30,
      90,
      expect.stringMatching(/duration/),
    ]);
    expect([memoryMb("512M"), memoryMb("1G"), memoryMb("1.5k")]).toEqual([
      512,
      1024,
      expect.stringMatching(/whole number/),
    ]);
  });
});

describe("refused: what the program cannot translate faithfully", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "network_mode",
      editService("main-app", (b) =>
        b.replace("    restart:", "    network_mode: host\n    restart:"),
      ),
      /services\.main-app\.network_mode is not supported \(every service joins the stack's one network\)/,
    ],
    [
      "secrets",
      editService("main-app", (b) => b.replace("    restart:", "    secrets: [db]\n    restart:")),
      /services\.main-app\.secrets is not supported \(secrets come from stack config/,
    ],
    [
      "configs",
      editService("main-app", (b) => b.replace("    restart:", "    configs: [c]\n    restart:")),
      /services\.main-app\.configs is not supported/,
    ],
    [
      "profiles",
      editService("main-app", (b) =>
        b.replace("    restart:", "    profiles: [debug]\n    restart:"),
      ),
      /services\.main-app\.profiles is not supported \(every service of the file is deployed/,
    ],
    [
      "extends",
      editService("main-app", (b) =>
        b.replace("    restart:", "    extends: { service: x }\n    restart:"),
      ),
      /services\.main-app\.extends is not supported \(write the service out in full\)/,
    ],
    [
      "a port range",
      editService("main-app", (b) => b.replace('"8000:8000"', '"8000-8001:8000-8001"')),
      /services\.main-app\.ports\[0\] = "8000-8001:8000-8001": expected .*no ranges/,
    ],
    [
      "a port without a host port",
      editService("main-app", (b) => b.replace('"8000:8000"', '"8000"')),
      /services\.main-app\.ports: "8000": compose publishes it on a random host port/,
    ],
    [
      "an unknown depends_on condition",
      composeText("release-0.1").replace(
        "condition: service_healthy",
        "condition: service_completed_successfully",
      ),
      /depends_on\.postgres\.condition = "service_completed_successfully": expected service_started or service_healthy/,
    ],
    [
      "a literal API key",
      editService("main-app", (b) => b.replace("API_KEY=${API_KEY}", "API_KEY=sk-in-compose")),
      /services\.main-app\.environment\.API_KEY: compose gives it a value; secrets come from stack config/,
    ],
    [
      "a persist variable pointed into a subdirectory",
      editService("query-storage", (b) =>
        b.replace(
          "      - API_KEY=${API_KEY}",
          "      - API_KEY=${API_KEY}\n      - CHROMA_PERSIST_DIRECTORY=/app/query_storage_data/chroma",
        ),
      ),
      /services\.query-storage\.environment\.CHROMA_PERSIST_DIRECTORY = "\/app\/query_storage_data\/chroma": must be the data mount "\/app\/query_storage_data"/,
    ],
    [
      "a variable left to the shell",
      editService("judge-service", (b) =>
        b.replace("${MODEL_DEFAULT_TEMPERATURE:-0.7}", "${MODEL_DEFAULT_TEMPERATURE}"),
      ),
      /services\.judge-service\.env\.MODEL_DEFAULT_TEMPERATURE = \(missing\): \S+ leaves MODEL_DEFAULT_TEMPERATURE to the deployer with no default: set it here/,
    ],
    [
      "a bind mount outside ./data",
      editService("model-registry", (b) => b.replace("./data/model_registry:", "./registry:")),
      /services\.model-registry\.volumes: \.\/registry:\/app\/model_registry_data: only \.\/data\/<dir> directories and named volumes can be kept as data sets/,
    ],
    [
      "an undeclared named volume",
      editService("model-registry", (b) => b.replace("./data/model_registry:", "registry_data:")),
      /services\.model-registry\.volumes: volume "registry_data" is not declared under the top-level volumes:/,
    ],
  ];

  test.each(cases)("%s: named, nothing registered", async (_what, compose, message) => {
    const run = await devRun(compose);
    expect(run.error?.name).toBe("ConfigError");
    expect(run.error?.message).toMatch(message);
    expect(run.resources).toEqual([]);
  });

  test("the broken twins' source files deploy as they are", async () => {
    for (const layout of ["compose-era", "release-0.1"] as const) {
      const run = await devRun(composeText(layout));
      if (run.error) throw run.error;
      expect(names(run)).toHaveLength(7);
    }
  }, 30_000);

  test("a variable compose leaves to the deployer deploys once stack config sets it", async () => {
    const compose = cases.find(([w]) => w === "a variable left to the shell")![1];
    const run = await devRun(compose, {
      "panopticon:services": { "judge-service": { env: { MODEL_DEFAULT_TEMPERATURE: "0.2" } } },
    });
    if (run.error) throw run.error;
    expect(envOf(run, "judge-service").MODEL_DEFAULT_TEMPERATURE).toBe("0.2");
  });
});

describe("a synthetic layout deploys by compose alone", () => {
  // One service added with a named volume, one removed: no code change, no stack config.
  const SYNTHETIC =
    editService("visualization-service", () => "").replace(/\n\n\n+/g, "\n\n") +
    `
  notes-service:
    build:
      context: .
      dockerfile: app/dockerfile
    ports:
      - "8010:8000"
    volumes:
      - notes_data:/app/notes
    environment:
      - API_KEY=\${API_KEY}
      - NOTES_PERSIST_DIRECTORY=/app/notes
      - DATABASE_URL=\${DATABASE_URL}
      - JUDGE_URL=http://judge-service:8000
    depends_on:
      postgres:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/health"]
      interval: 20s

volumes:
  notes_data:
`;
  let run: ProgramRun;
  beforeAll(async () => {
    run = await devRun(SYNTHETIC);
    if (run.error) throw run.error;
  });

  test("the added service runs, the removed one does not", () => {
    expect(names(run)).toContain("notes-service");
    expect(names(run)).not.toContain("visualization-service");
    const env = envOf(run, "notes-service");
    expect(env).toMatchObject({
      NOTES_PERSIST_DIRECTORY: "/app/notes",
      JUDGE_URL: "http://judge-service:8000",
      DATABASE_URL: `postgresql://postgres:${PASSWORD}@postgres:5432/panopticon`,
    });
  });

  test("its named volume is a data set: retained, mounted where the service reads", () => {
    const vol = run.byType(VOLUME).find((v) => v.plainInputs.name === "panopticon-dev-notes-data");
    expect(vol?.retainOnDelete).toBe(true);
    const c = serviceContainers(run.resources).find(
      (x) => x.plainInputs.name === "panopticon-dev-notes-service",
    )!;
    expect(c.plainInputs.mounts).toEqual([
      { type: "volume", source: "panopticon-dev-notes-data", target: "/app/notes" },
    ]);
  });
});

describe("release 0.1", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await devRun(composeText("release-0.1"));
    if (run.error) throw run.error;
  });

  test("the two item storages are one build run twice", () => {
    const builds = run
      .byType(BUILD)
      .filter((b) => JSON.stringify(b.plainInputs.dockerfile).includes("item_storage/dockerfile"));
    expect(builds).toHaveLength(1);
    const images = run.outputs.images as Record<string, string>;
    expect(images["item-storage-queries"]).toBe(images["item-storage-metrics"]);
  });

  test("three data sets, and the layout is named in the outputs", () => {
    expect(
      run
        .byType(VOLUME)
        .map((v) => v.plainInputs.name)
        .sort(),
    ).toEqual([
      "panopticon-dev-judge-data",
      "panopticon-dev-model-registry-data",
      "panopticon-dev-postgres-data",
    ]);
    expect(run.outputs.layout).toBe("release-0.1");
  });

  test("DATABASE_URL left to the deployer is computed, with the stack's one password", () => {
    for (const s of ["item-storage-queries", "item-storage-metrics", "judge-service"]) {
      expect(envOf(run, s).DATABASE_URL).toBe(
        `postgresql://postgres:${PASSWORD}@postgres:5432/panopticon`,
      );
    }
    expect(JSON.stringify(run.resources)).not.toContain("postgres:postgres@");
  });
});

describe("the deployed commit is recorded", () => {
  test("a git checkout: its revision, then dirty after a local change", async () => {
    const dir = makeCheckout("compose-era");
    const git = (...args: string[]) =>
      spawnSync("git", ["-C", dir, ...args], {
        encoding: "utf8",
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@t",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@t",
        },
      });
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "fixture");
    const head = git("rev-parse", "HEAD").stdout.trim();
    const config = { ...cliStackConfig("dev"), "panopticon:appSource": dir };
    const clean = await runProgram({
      stack: "dev",
      config,
      secrets: { postgresPassword: PASSWORD },
    });
    expect((clean.outputs.release as { source: unknown }).source).toEqual({
      commit: head,
      dirty: false,
    });
    fs.appendFileSync(path.join(dir, "app", "VERSION"), "local change\n");
    const dirty = await runProgram({
      stack: "dev",
      config,
      secrets: { postgresPassword: PASSWORD },
    });
    expect((dirty.outputs.release as { source: unknown }).source).toEqual({
      commit: head,
      dirty: true,
    });
    expect(
      (dirty.outputs.release as { compose: { services: object } }).compose.services,
    ).toHaveProperty("main-app");
  });
});

describe("prod runs the promoted layout", () => {
  test("no release promoted yet: one problem that says what to run, nothing registered", async () => {
    const config = cliStackConfig("prod");
    delete config["panopticon:release"];
    delete config["panopticon:services"];
    const run = await runProgram({ stack: "prod", config });
    expect(run.error?.message.split("\n").filter((l) => l.startsWith("  - "))).toEqual([
      expect.stringMatching(
        /panopticon:release = \(missing\): .*run `npm run promote -- --from dev --to <this stack>`/,
      ),
    ]);
    expect(run.resources).toEqual([]);
  });

  test("the commit of a promoted release is what it says, never this project's own", async () => {
    const config = cliStackConfig("prod");
    const promoted = config["panopticon:release"] as { source?: unknown };
    const withSource = await runProgram({ stack: "prod", config });
    expect((withSource.outputs.release as { source: unknown }).source).toEqual(promoted.source);
    delete promoted.source;
    const without = await runProgram({ stack: "prod", config });
    if (without.error) throw without.error;
    expect((without.outputs.release as { source: unknown }).source).toEqual({
      commit: null,
      dirty: null,
    });
  });

  test("a promoted 0.1 release deploys its services (postgres is RDS)", async () => {
    const config = { ...cliStackConfig("prod"), ...promotedRelease("release-0.1") };
    // 0.1 keeps no query or evaluation data set: their backends are refused by name
    // (a typo would be too), so the promotion's PR removes them.
    const aws = structuredClone(config["panopticon:aws"]) as { storage: Record<string, string> };
    delete aws.storage.query;
    delete aws.storage.evaluation;
    const refused = await runProgram({ stack: "prod", config });
    expect(refused.error?.message).toMatch(/aws\.storage\.query = "ebs": no data set "query"/);
    const run = await runProgram({ stack: "prod", config: { ...config, "panopticon:aws": aws } });
    if (run.error) throw run.error;
    const prodNames = serviceContainers(run.resources)
      .map((c) => c.plainInputs.name)
      .sort();
    expect(prodNames).toEqual(
      [
        "item-storage-metrics",
        "item-storage-queries",
        "judge-service",
        "main-app",
        "model-registry",
        "visualization-service",
      ].map((s) => `panopticon-prod-${s}`),
    );
  });
});

describe("stack config wins over compose", () => {
  test("an override of a compose value, and removing a service", async () => {
    const run = await devRun(ERA, {
      "panopticon:services": {
        "judge-service": { env: { MODEL_DEFAULT_TEMPERATURE: "0.1" }, limits: { cpus: 2 } },
        "visualization-service": false,
      },
    });
    if (run.error) throw run.error;
    expect(envOf(run, "judge-service").MODEL_DEFAULT_TEMPERATURE).toBe("0.1");
    expect(names(run)).not.toContain("visualization-service");
  });
  test("removing a service compose does not have is refused, naming the file's services", async () => {
    const run = await devRun(ERA, { "panopticon:services": { "judge-servce": false } });
    expect(run.error?.message).toMatch(
      /services\.judge-servce = false: \S+ has no service "judge-servce" to remove; did you mean "judge-service"\? \(known: .*judge-service/,
    );
    expect(run.resources).toEqual([]);
  });
});

describe("the parsed compose file is cached by content", () => {
  test("a second read gives the same map; an edited file is read anew, never a stale copy", () => {
    const dir = makeCheckout("compose-era");
    const file = path.join(dir, "docker-compose.yml");
    const first = layoutSource({ appSource: dir }, "/", []);
    const cached = path.join(
      os.tmpdir(),
      "panopticon-compose-cache",
      `${createHash("sha256").update(fs.readFileSync(file)).digest("hex")}.json`,
    );
    expect(JSON.parse(fs.readFileSync(cached, "utf8"))).toEqual(first?.compose);
    expect(layoutSource({ appSource: dir }, "/", [])?.compose).toEqual(first?.compose);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"8003:8000"', '"9003:8000"'));
    const edited = layoutSource({ appSource: dir }, "/", []);
    const judge = (edited?.compose.services as Record<string, { ports: string[] }>)[
      "judge-service"
    ];
    expect(judge.ports).toEqual(["9003:8000"]);
  });
});
