import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { STAND_IN_SOURCE } from "./support/checkouts";
import { ProgramRun, promotedStackFile, runProgram } from "./support/harness";
import { APP_IMAGES } from "./support/app-images";
import { destroy, docker, dockerAvailable, purgeAll, up } from "./support/docker-cli";
import type { StackStatus } from "../scripts/lib/status";

/*
 * `npm run status` on a real engine: a stack whose registrations (recorded under
 * the program's mocks) are replayed with the docker CLI, as
 * tests/local-stack.integration.test.ts does; then backed up with the real backup
 * tool, torn down as the engine would, and checked again. Also a stack that was
 * never deployed and the argument errors. Random per-run stack names.
 */

jest.setTimeout(240_000);

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const PG_IMAGE = process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";
const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
const RUN = randomBytes(3).toString("hex");
const STACK = `st${RUN}`;
const NEVER = `st${RUN}never`;
const APP_COMMAND = [
  "sh",
  "-c",
  "mkdir -p /tmp/www && echo ok > /tmp/www/health && httpd -p 8000 -h /tmp/www && " +
    "trap 'exit 0' TERM && while :; do sleep 1; done",
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-status-"));
let run: ProgramRun | undefined;

/** The config both the program (under mocks) and the status tool read. */
function config(): Record<string, unknown> {
  // busybox has wget, not the curl the real images ship.
  const health = { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8000/health"] };
  return {
    stopGraceSeconds: 60,
    initImage: BUSYBOX,
    // The compose-era layout, from the fixture checkout; every image is pinned.
    appSource: STAND_IN_SOURCE,
    services: {
      postgres: { image: PG_IMAGE, hostPort: false },
      ...Object.fromEntries(
        Object.keys(APP_IMAGES).map((a) => [
          a,
          { image: BUSYBOX, hostPort: false, command: APP_COMMAND, healthcheck: health },
        ]),
      ),
    },
  };
}

function writeStackFile(stack: string): void {
  const prefixed = Object.fromEntries(
    Object.entries(config()).map(([k, v]) => [`panopticon:${k}`, v]),
  );
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config: prefixed }));
}

function tsx(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [TSX, path.join(ROOT, "scripts", script), ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 180_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function status(stack: string): StackStatus {
  const r = tsx("status.ts", ["--stack", stack, "--dir", dir, "--json"]);
  expect([r.code, r.err]).toEqual([0, ""]);
  return JSON.parse(r.out) as StackStatus;
}

/** Everything status could change, before and after it runs. */
function engineAndDisk(): string {
  // Only this run's objects: other users of the shared engine come and go meanwhile.
  const ls = (kind: string, format: string) =>
    docker([
      kind,
      "ls",
      ...(kind === "container" ? ["-a"] : []),
      "--filter",
      `name=panopticon-${STACK}`,
      "--format",
      format,
    ]);
  return JSON.stringify([
    ls("container", "{{.ID}} {{.Names}} {{.State}}"),
    ls("volume", "{{.Name}}"),
    ls("network", "{{.ID}} {{.Name}}"),
    fs.readdirSync(dir, { recursive: true }).sort(),
  ]);
}

beforeAll(async () => {
  if (!dockerAvailable()) throw new Error("no Docker engine: run `bash scripts/docker-setup.sh`");
  for (const img of [PG_IMAGE, BUSYBOX]) {
    if (docker(["image", "ls", "-q", img]) === "")
      throw new Error(`test image ${img} missing: run \`bash scripts/docker-setup.sh\``);
  }
  writeStackFile(STACK);
  writeStackFile(NEVER);
  run = await runProgram({
    stack: STACK,
    config: config(),
    secrets: { postgresPassword: "status-it-password" },
  });
  if (run.error) throw run.error;
  up(run.resources, (i) => (String(i.name).endsWith("-postgres") ? PG_IMAGE : BUSYBOX));
});

afterAll(() => {
  if (run) purgeAll(run.resources);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm run status on a running stack", () => {
  test("every service with state, health and image; every data set with size and teardown", () => {
    const before = engineAndDisk();
    const s = status(STACK);
    expect(engineAndDisk()).toBe(before); // reads, never writes

    expect(s.deployed).toBe(true);
    expect(s.network).toEqual({ name: `panopticon-${STACK}-net`, exists: true });
    const registered = run!.resources
      .filter((r) => r.type === "docker:index/container:Container" && r.plainInputs.attach !== true)
      .map((r) => String(r.plainInputs.name))
      .sort();
    expect(s.services.map((x) => x.container).sort()).toEqual(registered);
    for (const x of s.services) {
      expect(x.state).toBe("running");
      expect(x.image).toBe(x.service === "postgres" ? PG_IMAGE : BUSYBOX);
    }
    expect(s.services.find((x) => x.service === "postgres")?.health).toBe("healthy");

    const volumes = run!.resources
      .filter((r) => r.type === "docker:index/volume:Volume")
      .map((r) => String(r.plainInputs.name))
      .sort();
    expect(s.dataSets.map((d) => d.location).sort()).toEqual(volumes);
    for (const d of s.dataSets) {
      expect(d).toMatchObject({ backend: "volume", exists: true, keptOnTeardown: true });
      expect(d.size).toMatch(/^\d+(\.\d+)?[kMG]?B$/);
      expect(d.newestBackup).toBeNull();
    }
    // Postgres has initialised its data directory: its volume is not empty.
    expect(s.dataSets.find((d) => d.dataSet === "postgres")?.size).toMatch(/MB$/);
  });

  test("the table names each service and data set and the newest backup with its age", () => {
    const b = tsx("backup.ts", ["--stack", STACK, "--dir", dir, "--helper-image", BUSYBOX]);
    expect([b.code, b.err]).toEqual([0, expect.any(String)]);
    const backupDir = path.relative(dir, b.out.trim());
    // An interrupted backup (no manifest.json) is never shown as a backup.
    fs.mkdirSync(path.join(dir, "backups", `${STACK}-20990101T000000Z`));
    fs.writeFileSync(
      path.join(dir, "backups", `${STACK}-20990101T000000Z`, "judge.tar.partial"),
      "",
    );

    const s = status(STACK);
    expect(s.incompleteBackups).toBe(1);
    for (const d of s.dataSets) {
      expect(d.newestBackup).toMatchObject({
        dir: backupDir,
        kind: d.dataSet === "postgres" ? "pg_dump" : "files",
      });
      expect(d.newestBackup!.ageSeconds).toBeLessThan(120);
    }

    const r = tsx("status.ts", ["--stack", STACK, "--dir", dir]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain(`stack ${STACK} (volume mode): 7 of 7 services running`);
    for (const x of s.services) expect(r.out).toMatch(new RegExp(`│ ${x.service} +│ running +│`));
    for (const d of s.dataSets) {
      expect(r.out).toContain(`volume ${d.location}, ${d.size}`);
      expect(r.out).toMatch(new RegExp(`${backupDir}[^│]*, (\\d+ s|\\d+ min) ago`));
    }
    expect(r.out).toContain("1 incomplete backup(s) of this stack ignored");
    expect(r.out.split("\n").length).toBeLessThan(40); // one screen
  });

  test("after a teardown: containers gone, every data set still there and kept", () => {
    destroy(run!.resources);
    const s = status(STACK);
    expect(s.deployed).toBe(true);
    expect(s.network.exists).toBe(false);
    expect(s.services.every((x) => x.state === "missing" && x.image === null)).toBe(true);
    expect(s.dataSets.every((d) => d.exists && d.keptOnTeardown)).toBe(true);
  });
});

describe("npm run status on stacks that are not there", () => {
  test("a stack that was never deployed says so plainly (exit 0)", () => {
    const r = tsx("status.ts", ["--stack", NEVER, "--dir", dir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`stack ${NEVER} has never been deployed on this Docker engine`);
    expect(r.out).not.toContain("│ service");
    const s = status(NEVER);
    expect(s.deployed).toBe(false);
    expect(s.dataSets.every((d) => !d.exists && d.size === null)).toBe(true);
  });

  test("bind mode, compose-era directories not yet deployed: each directory with its size", () => {
    const data = path.join(dir, "old-checkout", "data");
    fs.mkdirSync(path.join(data, "judge_service"), { recursive: true });
    fs.writeFileSync(path.join(data, "judge_service", "chroma.sqlite3"), "x".repeat(1234));
    const stack = `${STACK}bind`;
    fs.writeFileSync(
      path.join(dir, `Pulumi.${stack}.yaml`),
      stringify({
        config: {
          "panopticon:storageMode": "bind",
          "panopticon:dataDir": data,
          "panopticon:appSource": STAND_IN_SOURCE,
          "panopticon:services": APP_IMAGES,
        },
      }),
    );
    const s = status(stack);
    expect(s.deployed).toBe(false);
    const judge = s.dataSets.find((d) => d.dataSet === "judge");
    expect(judge).toMatchObject({
      backend: "bind",
      location: path.join(data, "judge_service"),
      exists: true,
      sizeBytes: 1234,
      size: "1.23kB",
      keptOnTeardown: true,
    });
    expect(s.dataSets.find((d) => d.dataSet === "postgres")).toMatchObject({
      exists: false,
      size: null,
    });
    const r = tsx("status.ts", ["--stack", stack, "--dir", dir]);
    expect(r.out).toContain(`dir ${path.join(data, "judge_service")} (adopted), 1.23kB`);
    expect(r.out).toContain("kept (directory)");
    expect(r.out).toContain("Its data lives here (1 of 5 data sets exist already");
  });

  test("no --stack: exit 2 naming the option", () => {
    const r = tsx("status.ts", ["--dir", dir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("required option '--stack <name>' not specified");
  });

  test("a stack without a stack file: exit 2 naming the stack and the file", () => {
    const r = tsx("status.ts", ["--stack", "nosuchstack", "--dir", dir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `status: error: --stack = "nosuchstack": expected a stack file ${path.join(dir, "Pulumi.nosuchstack.yaml")}`,
    );
    expect(r.out).toBe("");
  });

  test("a stack name that is not one: exit 2", () => {
    const r = tsx("status.ts", ["--stack", "../etc", "--dir", dir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--stack = "../etc": expected a Pulumi stack name');
  });

  test("an AWS stack: exit 3, not a local stack", () => {
    fs.writeFileSync(
      path.join(dir, `Pulumi.${STACK}aws.yaml`),
      stringify(promotedStackFile("Pulumi.prod.yaml")),
    );
    const r = tsx("status.ts", ["--stack", `${STACK}aws`, "--dir", dir]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("status works on local Docker stacks only");
  });
});
