import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProgramRun, runProgram } from "./support/harness";
import { destroy, docker, dockerAvailable, purgeAll, up } from "./support/docker-cli";
import { parse as parseYaml } from "yaml";
import { composeText, FixtureLayout } from "./support/checkouts";
import { ContractRow, CONTRACT, RELEASE_01 } from "./support/compose-contract";

/*
 * The dev program's registrations replayed on a real Docker engine: up, write
 * data, destroy as the engine would (honouring the recorded retainOnDelete),
 * up again, and the data is there; for both layouts (the compose era, release 0.1),
 * and across the move from one to the other. Needs the test images built by
 * scripts/docker-setup.sh.
 */

jest.setTimeout(240_000);

const PG_IMAGE = process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";
const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
const LAYOUTS: Record<FixtureLayout, Readonly<Record<string, ContractRow>>> = {
  "compose-era": CONTRACT,
  "release-0.1": RELEASE_01,
};
const appsOf = (layout: FixtureLayout) =>
  Object.keys(LAYOUTS[layout]).filter((s) => s !== "postgres");
const dataAppsOf = (layout: FixtureLayout) =>
  appsOf(layout).filter((a) => LAYOUTS[layout][a].data !== undefined);

// App stand-ins: serve /health on 8000 like the real services and stop on SIGTERM.
// busybox has wget, not the curl the real images ship.
const APP_HEALTH = {
  test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8000/health"],
};
const APP_COMMAND = [
  "sh",
  "-c",
  "mkdir -p /tmp/www && echo ok > /tmp/www/health && httpd -p 8000 -h /tmp/www && " +
    "trap 'exit 0' TERM && while :; do sleep 1; done",
];

/** The layout as a promoted release (no checkout: the images are stand-ins). */
function stackConfig(
  layout: FixtureLayout,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const port = 20000 + (process.pid % 20000);
  return {
    stopGraceSeconds: 60,
    initImage: BUSYBOX,
    release: { compose: parseYaml(composeText(layout)) },
    services: {
      postgres: { image: PG_IMAGE, hostPort: port },
      ...Object.fromEntries(
        appsOf(layout).map((a) => [
          a,
          { image: BUSYBOX, hostPort: false, command: APP_COMMAND, healthcheck: APP_HEALTH },
        ]),
      ),
    },
    ...extra,
  };
}

const imageFor = (i: Record<string, unknown>) =>
  String(i.name).endsWith("-postgres") ? PG_IMAGE : BUSYBOX;

function psql(stack: string, sql: string): string {
  return docker([
    "exec",
    "--user",
    "postgres",
    `panopticon-${stack}-postgres`,
    "psql",
    "-U",
    "postgres",
    "-d",
    "panopticon",
    "-tAc",
    sql,
  ]);
}

beforeAll(() => {
  if (!dockerAvailable()) {
    throw new Error("no Docker engine: run `bash scripts/docker-setup.sh` first (see README)");
  }
  for (const img of [PG_IMAGE, BUSYBOX]) {
    if (docker(["image", "ls", "-q", img]) === "") {
      throw new Error(`test image ${img} missing: run \`bash scripts/docker-setup.sh\``);
    }
  }
});

const CASES = (["compose-era", "release-0.1"] as const).flatMap((layout) =>
  (["volume", "bind"] as const).map((mode) => [layout, mode] as const),
);

describe.each(CASES)("%s, storageMode %s on a real engine", (layout, mode) => {
  const stack = `it${process.pid}${layout[0]}${mode[0]}`;
  const CONTRACT = LAYOUTS[layout];
  const DATA_APPS = dataAppsOf(layout);
  let run: ProgramRun;
  let dataDir = "";

  beforeAll(async () => {
    if (mode === "bind") {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bind-"));
      // A compose-era directory: world-writable, with a file owned by another uid.
      fs.mkdirSync(path.join(dataDir, "model_registry"), { mode: 0o777 });
      fs.chmodSync(path.join(dataDir, "model_registry"), 0o777);
      fs.writeFileSync(path.join(dataDir, "model_registry", "old-model.bin"), "weights");
      fs.chownSync(path.join(dataDir, "model_registry", "old-model.bin"), 4321, 4321);
    }
    run = await runProgram({
      stack,
      config: stackConfig(layout, mode === "bind" ? { storageMode: "bind", dataDir } : {}),
      secrets: { postgresPassword: "it-password-123" },
    });
    if (run.error) throw run.error;
  });

  afterAll(() => {
    if (run) purgeAll(run.resources);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("up, write, destroy, up: the data is re-attached", () => {
    up(run.resources, imageFor);
    psql(stack, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives destroy')");
    for (const app of DATA_APPS) {
      const target = CONTRACT[app].data!.path;
      docker(["exec", `panopticon-${stack}-${app}`, "sh", "-c", `echo ${app} > ${target}/marker`]);
    }
    // The app containers resolve postgres by its network alias.
    expect(
      docker(["exec", `panopticon-${stack}-judge-service`, "nslookup", "postgres"], {
        allowFail: true,
      }),
    ).toMatch(/Address/);

    const kept = destroy(run.resources);
    const retained = run.resources
      .filter((r) => r.type === "docker:index/volume:Volume")
      .map((r) => String(r.plainInputs.name));
    expect(kept.sort()).toEqual(retained.sort());
    expect(docker(["ps", "-a", "--filter", `name=panopticon-${stack}-`, "-q"])).toBe("");
    expect(docker(["network", "ls", "-q", "--filter", `name=panopticon-${stack}-net`])).toBe("");
    if (mode === "volume") {
      expect(retained).toHaveLength(layout === "compose-era" ? 5 : 3);
      const left = docker(["volume", "ls", "--format", "{{.Name}}"]).split("\n");
      expect(left).toEqual(expect.arrayContaining(retained));
    }

    up(run.resources, imageFor);
    expect(psql(stack, "SELECT v FROM kept")).toBe("survives destroy");
    for (const app of DATA_APPS) {
      const target = CONTRACT[app].data!.path;
      expect(docker(["exec", `panopticon-${stack}-${app}`, "cat", `${target}/marker`])).toBe(app);
    }
  });

  test("postgres stops with a fast shutdown on its stop signal", () => {
    const name = `panopticon-${stack}-postgres`;
    const started = Date.now();
    docker(["stop", name]); // uses the recorded --stop-signal and --stop-timeout
    expect(Date.now() - started).toBeLessThan(30_000);
    // postgres logs to stderr; docker() returns stdout only.
    const logs = spawnSync("docker", ["logs", name], { encoding: "utf8" });
    expect(logs.stdout + logs.stderr).toMatch(/received fast shutdown request/);
    expect(docker(["inspect", "--format", "{{.State.ExitCode}}", name])).toBe("0");
  });

  if (mode === "bind") {
    test("directories: created with the image's owner, adopted ones keep content, none world-writable", () => {
      const stat = (d: string) => {
        const s = fs.statSync(path.join(dataDir, d));
        return `${s.uid}:${s.gid} ${(s.mode & 0o777).toString(8)}`;
      };
      // The compose images run as root.
      expect(stat("judge_service")).toBe("0:0 750");
      if (layout === "compose-era") expect(stat("query_storage")).toBe("0:0 750");
      expect(stat("postgres")).toMatch(/^999:999 7[05]0$/);
      expect(stat("model_registry")).toBe("0:0 775"); // adopted: owner kept, o-w removed
      const old = fs.statSync(path.join(dataDir, "model_registry", "old-model.bin"));
      expect(old.uid).toBe(4321);
      expect(fs.readFileSync(path.join(dataDir, "model_registry", "old-model.bin"), "utf8")).toBe(
        "weights",
      );
      expect(fs.existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);
    });
  }
});

describe("moving a stack from the compose era to release 0.1 on a real engine", () => {
  const stack = `it${process.pid}mv`;
  let era: ProgramRun;
  let next: ProgramRun;
  beforeAll(async () => {
    era = await runProgram({
      stack,
      config: stackConfig("compose-era", {}),
      secrets: { postgresPassword: "it-password-123" },
    });
    next = await runProgram({
      stack,
      config: stackConfig("release-0.1", {}),
      secrets: { postgresPassword: "it-password-123" },
    });
    if (era.error || next.error) throw era.error ?? next.error;
  });
  afterAll(() => {
    if (era) purgeAll(era.resources);
    if (next) purgeAll(next.resources);
  });

  test("the data sets 0.1 no longer mounts are kept; the ones it mounts are re-attached", () => {
    up(era.resources, imageFor);
    for (const app of dataAppsOf("compose-era")) {
      const target = CONTRACT[app].data!.path;
      docker(["exec", `panopticon-${stack}-${app}`, "sh", "-c", `echo ${app} > ${target}/marker`]);
    }
    // The update, as the engine runs it: every container is replaced (its env changes;
    // deleteBeforeReplace) and what the new program lacks is deleted, honouring the
    // retainOnDelete recorded in state: the old run's options decide.
    destroy(era.resources);
    up(next.resources, imageFor);
    const volumes = docker(["volume", "ls", "--format", "{{.Name}}"]).split("\n");
    expect(volumes).toEqual(
      expect.arrayContaining([
        `panopticon-${stack}-query-data`,
        `panopticon-${stack}-evaluation-data`,
      ]),
    );
    expect(
      docker([
        "exec",
        `panopticon-${stack}-judge-service`,
        "cat",
        "/app/judge_service_data/marker",
      ]),
    ).toBe("judge-service");
    expect(
      docker(["ps", "--format", "{{.Names}}", "--filter", `name=panopticon-${stack}-`])
        .split("\n")
        .sort(),
    ).toEqual(
      Object.keys(RELEASE_01)
        .map((s) => `panopticon-${stack}-${s}`)
        .sort(),
    );
  });
});
