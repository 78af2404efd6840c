import { ChildProcess, spawn, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SWAP_SCRIPT, UNSWAP_SCRIPT } from "../scripts/lib/restore-core";
import { STAND_IN_SOURCE } from "./support/checkouts";
import { APP_IMAGES_YAML } from "./support/app-images";
import { startFixturePostgres } from "./support/docker-cli";
import { CONTRACT_APPS } from "./support/compose-contract";

/*
 * backup, restore and purge against a real Docker engine (started and given its
 * test images by scripts/docker-setup.sh). The tools run as separate processes,
 * exactly as `npm run backup` runs them, on volumes and containers whose names
 * carry a random per-run stack name; everything is removed afterwards.
 */

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, "..");
const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
const PG_IMAGE = process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";
const RUN = randomBytes(3).toString("hex");
/** An app that stops promptly and cleanly on SIGTERM, like the real services. */
const APP_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"];

// ------------------------------------------------------------------ helpers

function docker(args: string[], opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync("docker", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`docker ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return (r.stdout ?? "").trim();
}

interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startTool(tool: "backup" | "restore" | "purge", args: string[]): ChildProcess {
  // `node --import tsx` in one process (no tsx wrapper), so a kill reaches the tool itself.
  return spawn(process.execPath, ["--import", "tsx", path.join("scripts", `${tool}.ts`), ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function finish(child: ChildProcess): Promise<ToolResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

const timings: string[] = [];

async function tool(t: "backup" | "restore" | "purge", args: string[]): Promise<ToolResult> {
  const t0 = Date.now();
  const r = await finish(startTool(t, args));
  timings.push(
    `${t} ${args.filter((a) => !a.startsWith("/")).join(" ")}: ${Date.now() - t0} ms, exit ${r.code}`,
  );
  return r;
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-data-tools-"));
const stacks: string[] = [];

/** Writes `Pulumi.<stack>.yaml` in TMP with the local test images. */
function stackFile(stack: string, extra = ""): string {
  stacks.push(stack);
  fs.writeFileSync(
    path.join(TMP, `Pulumi.${stack}.yaml`),
    [
      "config:",
      "  panopticon:environment: local",
      `  panopticon:initImage: ${BUSYBOX}`,
      "  panopticon:stopGraceSeconds: 60",
      // The compose-era layout, from the fixture checkout; every image is pinned below.
      `  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}`,
      "  panopticon:services:",
      "    postgres:",
      `      image: ${PG_IMAGE}`,
      ...CONTRACT_APPS.flatMap((s) => [`    ${s}:`, `      image: ${BUSYBOX}`]),
      extra,
    ].join("\n"),
  );
  return stack;
}

const vol = (stack: string, set: string) => `panopticon-${stack}-${set.replace(/_/g, "-")}-data`;
const ctr = (stack: string, service: string) => `panopticon-${stack}-${service}`;

type Mount = { volume: string } | { bind: string };
const mountArg = (m: Mount) =>
  "volume" in m ? `type=volume,src=${m.volume},dst=/data` : `type=bind,src=${m.bind},dst=/data`;

function inHelper(m: Mount, script: string): string {
  return docker(["run", "--rm", "--mount", mountArg(m), BUSYBOX, "sh", "-c", script]);
}

/** Files of varied owners, modes and kinds, as the services leave them. */
const POPULATE = `set -e; cd /data
mkdir -p chroma/sub empty "dir with space"
echo hello > chroma/a.txt; chmod 640 chroma/a.txt
dd if=/dev/urandom of=chroma/blob bs=1k count=768 2>/dev/null
ln -s chroma/a.txt link; ln chroma/a.txt hard
echo dash > ./-rf; echo hidden > .hidden; echo s > "dir with space/f 1"
chown -R 1000:1000 /data; chown 1234:5678 chroma/a.txt; chmod 700 empty; chmod 2750 chroma
chmod 750 /data`;

/** Path, owner, mode, kind and sha256 (or link target) of every entry, the root included. */
const SNAPSHOT = `cd /data && find . | sort | while IFS= read -r f; do
  if [ -L "$f" ]; then t="link:$(readlink "$f")"
  elif [ -f "$f" ]; then t="file:$(sha256sum < "$f" | cut -d' ' -f1)"
  else t="$(stat -c %F "$f")"; fi
  echo "$f|$(stat -c '%u:%g:%a' "$f")|$t"
done`;

function snapshot(m: Mount): string[] {
  return inHelper(m, SNAPSHOT).split("\n");
}

function volumeExists(name: string): boolean {
  return spawnSync("docker", ["volume", "inspect", name], { stdio: "ignore" }).status === 0;
}

function startedAt(name: string): string {
  return docker(["inspect", "-f", "{{.State.StartedAt}}", name]);
}

function running(name: string): boolean {
  return docker(["inspect", "-f", "{{.State.Running}}", name], { allowFail: true }) === "true";
}

function runApp(stack: string, service: string, m: Mount): void {
  docker([
    "run",
    "-d",
    "--name",
    ctr(stack, service),
    "--mount",
    mountArg(m),
    BUSYBOX,
    ...APP_COMMAND,
  ]);
}

function runPostgres(stack: string, m: Mount): string {
  const name = ctr(stack, "postgres");
  startFixturePostgres(name, mountArg(m).replace(",dst=/data", ""));
  return name;
}

function psql(stack: string, sql: string, allowFail = false): string {
  return docker(
    ["exec", ctr(stack, "postgres"), "psql", "-U", "postgres", "-d", "panopticon", "-tAc", sql],
    {
      allowFail,
    },
  );
}

function sha256(p: string): string {
  return createHash("sha256").update(fs.readFileSync(p)).digest("hex");
}

function manifestOf(dir: string): {
  entries: Array<{
    kind: string;
    file: string;
    sha256: string;
    bytes: number;
    dataSet?: string;
    consistency?: string;
  }>;
  method: string[];
} {
  return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
}

function cleanupStack(stack: string): void {
  const ids = docker(["ps", "-aq", "--filter", `name=^panopticon-${stack}-`])
    .split("\n")
    .filter(Boolean);
  if (ids.length > 0) docker(["rm", "-f", ...ids], { allowFail: true });
  const vols = docker(["volume", "ls", "-q", "--filter", `name=^panopticon-${stack}-`])
    .split("\n")
    .filter(Boolean);
  if (vols.length > 0) docker(["volume", "rm", "-f", ...vols], { allowFail: true });
}

// ------------------------------------------------------------------ setup

beforeAll(() => {
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    encoding: "utf8",
  });
  if (info.status !== 0) {
    throw new Error(
      `These tests need a running Docker engine and \`docker info\` failed (${
        info.error?.message ?? info.stderr.trim()
      }). Run \`sudo bash scripts/docker-setup.sh\` first.`,
    );
  }
  for (const img of [BUSYBOX, PG_IMAGE]) {
    if (docker(["image", "ls", "-q", img]) === "") {
      throw new Error(`test image ${img} is missing: run \`sudo bash scripts/docker-setup.sh\``);
    }
  }
});

afterAll(() => {
  // Helper containers of a killed run finish on their own; remove them so their volumes can go.
  docker(["ps", "-aq", "--filter", "label=io.panopticon.helper"])
    .split("\n")
    .filter(Boolean)
    .forEach((id) => docker(["rm", "-f", id], { allowFail: true }));
  for (const s of stacks) cleanupStack(s);
  if (process.env.KEEP_TMP !== "1") fs.rmSync(TMP, { recursive: true, force: true });
  process.stderr.write(`data-tools timings:\n  ${timings.join("\n  ")}\n`);
});

// ------------------------------------------------------------------ tests

describe("round trip on named volumes: backup, purge, restore", () => {
  const stack = stackFile(`it${RUN}v`);
  const D = ["--dir", TMP, "--stack", stack];
  const sets = ["judge", "model_registry", "postgres"];
  let before: Record<string, string[]> = {};
  const bk = path.join(TMP, `${stack}-backup`);

  beforeAll(() => {
    for (const s of ["judge", "model_registry"]) {
      docker(["volume", "create", vol(stack, s)]);
      inHelper({ volume: vol(stack, s) }, POPULATE);
    }
    // A real Postgres cluster, then "pulumi destroy": the container goes, the volume stays.
    runPostgres(stack, { volume: vol(stack, "postgres") });
    psql(
      stack,
      "CREATE TABLE runs (id int PRIMARY KEY, note text); INSERT INTO runs SELECT g, 'run ' || g FROM generate_series(1, 500) g",
    );
    docker(["stop", "-t", "60", ctr(stack, "postgres")]);
    docker(["rm", ctr(stack, "postgres")]);
    before = Object.fromEntries(sets.map((s) => [s, snapshot({ volume: vol(stack, s) })]));
  });

  it("backup writes one archive per existing data set and a manifest with matching sha256", async () => {
    const r = await tool("backup", [...D, "--out", bk]);
    expect(r.stderr).toMatch(/backup complete/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(bk);
    const m = manifestOf(bk);
    expect(m.entries.map((e) => e.file).sort()).toEqual([
      "judge.tar",
      "model_registry.tar",
      "postgres.tar",
    ]);
    for (const e of m.entries) {
      expect(sha256(path.join(bk, e.file))).toBe(e.sha256);
      expect(fs.statSync(path.join(bk, e.file)).size).toBe(e.bytes);
    }
    expect(m.method.join("\n")).toMatch(/query: skipped: volume .* does not exist/);
    // Written by tar inside the helper container, straight into the backup directory.
    expect(m.method.join("\n")).toMatch(/judge: archived in the helper container/);
    expect(
      fs.readdirSync(bk).filter((f) => f.endsWith(".partial") || f.startsWith(".probe")),
    ).toEqual([]);
  });

  it("a backup directory the engine cannot mount falls back to streaming, with the same archives", async () => {
    // A comma cannot be passed in a --mount specification: the direct path declines it.
    const streamed = path.join(TMP, `${stack}-streamed,1`);
    const r = await tool("backup", [...D, "--out", streamed]);
    expect(r.code).toBe(0);
    const m = manifestOf(streamed);
    expect(m.method.join("\n")).toMatch(/judge: archived as a stream/);
    const direct = manifestOf(bk);
    for (const e of m.entries) {
      expect(sha256(path.join(streamed, e.file))).toBe(e.sha256);
      const same = direct.entries.find((d) => d.file === e.file);
      expect(e.bytes).toBe(same?.bytes);
    }
    fs.rmSync(streamed, { recursive: true, force: true });
  });

  it("purge without the stack name typed again deletes nothing", async () => {
    for (const confirm of [[], ["--confirm", "dev"], ["--confirm", stack.toUpperCase()]]) {
      const r = await tool("purge", [...D, ...confirm, "--no-backup"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/--confirm.*Nothing was touched/);
    }
    for (const s of sets) expect(snapshot({ volume: vol(stack, s) })).toEqual(before[s]);
  });

  it("purge refuses while a container still uses the data, and deletes nothing", async () => {
    docker([
      "create",
      "--name",
      ctr(stack, "judge-service"),
      "--mount",
      mountArg({ volume: vol(stack, "judge") }),
      BUSYBOX,
    ]);
    const r = await tool("purge", [...D, "--confirm", stack, "--no-backup"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`${ctr(stack, "judge-service")} \\(stopped\\).*pulumi destroy`),
    );
    docker(["rm", ctr(stack, "judge-service")]);
    for (const s of sets) expect(snapshot({ volume: vol(stack, s) })).toEqual(before[s]);
  });

  it("purge with the right confirmation takes a backup, then deletes every volume", async () => {
    const pb = path.join(TMP, `${stack}-before-purge`);
    const r = await tool("purge", [...D, "--confirm", stack, "--out", pb]);
    expect(r.stderr).toMatch(/purge complete/);
    expect(r.code).toBe(0);
    for (const s of sets) expect(volumeExists(vol(stack, s))).toBe(false);
    expect(manifestOf(pb).entries).toHaveLength(3);
  });

  it("restore brings back byte-identical files with their owners and modes", async () => {
    const r = await tool("restore", [...D, "--from", bk]);
    expect(r.stderr).toMatch(/restore complete/);
    expect(r.code).toBe(0);
    for (const s of sets) expect(snapshot({ volume: vol(stack, s) })).toEqual(before[s]);
  });

  it("the restored Postgres files start and hold the rows", () => {
    runPostgres(stack, { volume: vol(stack, "postgres") });
    expect(psql(stack, "SELECT count(*), sum(id) FROM runs")).toBe("500|125250");
    docker(["rm", "-f", ctr(stack, "postgres")]);
  });

  it("restore refuses non-empty data without --force and changes nothing", async () => {
    inHelper({ volume: vol(stack, "judge") }, "echo newer > /data/chroma/a.txt");
    const changed = snapshot({ volume: vol(stack, "judge") });
    const r = await tool("restore", [...D, "--from", bk, "--only", "judge"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/judge: volume .* is not empty .* pass --force/);
    expect(snapshot({ volume: vol(stack, "judge") })).toEqual(changed);
  });

  it("restore --force replaces non-empty data with the backup", async () => {
    const r = await tool("restore", [...D, "--from", bk, "--only", "judge", "--force"]);
    expect(r.code).toBe(0);
    expect(snapshot({ volume: vol(stack, "judge") })).toEqual(before.judge);
  });

  it("restore refuses a backup whose archive does not match its checksum, and changes nothing", async () => {
    const bad = path.join(TMP, `${stack}-damaged`);
    fs.cpSync(bk, bad, { recursive: true });
    const f = path.join(bad, "model_registry.tar");
    const buf = fs.readFileSync(f);
    buf[buf.length - 4096] ^= 0xff;
    fs.writeFileSync(f, buf);
    inHelper({ volume: vol(stack, "judge") }, "rm -rf /data/chroma");
    const changed = snapshot({ volume: vol(stack, "judge") });
    const r = await tool("restore", [...D, "--from", bad, "--force"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch for model_registry\.tar/);
    expect(snapshot({ volume: vol(stack, "judge") })).toEqual(changed);
    expect(snapshot({ volume: vol(stack, "model_registry") })).toEqual(before.model_registry);
  });

  it("a restore that fails half-way (archive breaks while extracting) leaves every data set as it was", async () => {
    // A truncated archive whose manifest was rewritten to match: only the extraction can notice.
    const broken = path.join(TMP, `${stack}-truncated`);
    fs.cpSync(bk, broken, { recursive: true });
    const f = path.join(broken, "model_registry.tar");
    fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
    const m = manifestOf(broken);
    const e = m.entries.find((x) => x.file === "model_registry.tar");
    if (e === undefined) throw new Error("model_registry.tar missing from the manifest");
    e.sha256 = sha256(f);
    e.bytes = fs.statSync(f).size;
    fs.writeFileSync(path.join(broken, "manifest.json"), JSON.stringify(m));
    inHelper({ volume: vol(stack, "model_registry") }, "echo local change > /data/chroma/a.txt");
    const judge = snapshot({ volume: vol(stack, "judge") });
    const model = snapshot({ volume: vol(stack, "model_registry") });
    const r = await tool("restore", [...D, "--from", broken, "--force"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/restore: failed: .*tar/);
    // judge was staged before model_registry failed: its stage is gone and its data untouched.
    expect(r.stderr).toMatch(/judge: extracting/);
    expect(snapshot({ volume: vol(stack, "judge") })).toEqual(judge);
    expect(snapshot({ volume: vol(stack, "model_registry") })).toEqual(model);
    expect(judge.concat(model).some((l) => l.includes(".panopticon-"))).toBe(false);
    const again = await tool("restore", [
      ...D,
      "--from",
      bk,
      "--only",
      "model_registry",
      "--force",
    ]);
    expect(again.code).toBe(0);
    expect(snapshot({ volume: vol(stack, "model_registry") })).toEqual(before.model_registry);
  });

  it("restore refuses while a running container uses the data; --stop-writers stops and restarts it", async () => {
    runApp(stack, "judge-service", { volume: vol(stack, "judge") });
    const r1 = await tool("restore", [...D, "--from", bk, "--only", "judge", "--force"]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/in use by running container/);
    const t0 = startedAt(ctr(stack, "judge-service"));
    const r2 = await tool("restore", [
      ...D,
      "--from",
      bk,
      "--only",
      "judge",
      "--force",
      "--stop-writers",
    ]);
    expect(r2.code).toBe(0);
    expect(running(ctr(stack, "judge-service"))).toBe(true);
    expect(startedAt(ctr(stack, "judge-service"))).not.toBe(t0);
    docker(["rm", "-f", ctr(stack, "judge-service")]);
    expect(snapshot({ volume: vol(stack, "judge") })).toEqual(before.judge);
  });
});

describe("a running Postgres: pg_dump, and its restore", () => {
  const stack = stackFile(`it${RUN}p`);
  const D = ["--dir", TMP, "--stack", stack];
  const bk = path.join(TMP, `${stack}-dump`);

  beforeAll(() => {
    docker(["volume", "create", vol(stack, "postgres")]);
    runPostgres(stack, { volume: vol(stack, "postgres") });
    psql(
      stack,
      "CREATE TABLE judgements (id int PRIMARY KEY, verdict text); INSERT INTO judgements SELECT g, md5(g::text) FROM generate_series(1, 2000) g",
    );
    docker(["volume", "create", vol(stack, "judge")]);
    inHelper({ volume: vol(stack, "judge") }, POPULATE);
    runApp(stack, "judge-service", { volume: vol(stack, "judge") });
  });

  it("takes a logical dump, skips the live volume, and stops and restarts the app writer", async () => {
    const appStart = startedAt(ctr(stack, "judge-service"));
    const pgStart = startedAt(ctr(stack, "postgres"));
    const r = await tool("backup", [...D, "--out", bk]);
    expect(r.code).toBe(0);
    const m = manifestOf(bk);
    expect(m.entries.map((e) => `${e.kind}:${e.file}`).sort()).toEqual([
      "archive:judge.tar",
      "pg_dump:postgres.pgdump",
    ]);
    expect(m.entries.find((e) => e.file === "judge.tar")?.consistency).toBe("container-stopped");
    expect(m.method.join("\n")).toMatch(/postgres: logical dump with pg_dump/);
    expect(r.stderr).toMatch(/raw volume archive skipped/);
    expect(fs.readFileSync(path.join(bk, "postgres.pgdump")).subarray(0, 5).toString()).toBe(
      "PGDMP",
    );
    expect(running(ctr(stack, "judge-service"))).toBe(true);
    expect(startedAt(ctr(stack, "judge-service"))).not.toBe(appStart);
    expect(startedAt(ctr(stack, "postgres"))).toBe(pgStart);
  });

  it("refuses to restore the dump over a database that holds tables, without --force", async () => {
    const r = await tool("restore", [...D, "--from", bk, "--only", "pg_dump"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database panopticon already holds \d+ relation/);
    expect(psql(stack, "SELECT count(*) FROM judgements")).toBe("2000");
  });

  it("restores the dump into a fresh database: the rows are back", async () => {
    docker(["rm", "-f", ctr(stack, "postgres")]);
    docker(["volume", "rm", vol(stack, "postgres")]);
    docker(["volume", "create", vol(stack, "postgres")]);
    runPostgres(stack, { volume: vol(stack, "postgres") });
    expect(psql(stack, "SELECT count(*) FROM pg_tables WHERE tablename = 'judgements'")).toBe("0");
    const r = await tool("restore", [...D, "--from", bk, "--only", "pg_dump"]);
    expect(r.stderr).toMatch(/restore complete/);
    expect(r.code).toBe(0);
    expect(psql(stack, "SELECT count(*), sum(id) FROM judgements")).toBe("2000|2001000");
  });

  it("with --force replaces the database contents in one transaction", async () => {
    psql(stack, "DELETE FROM judgements WHERE id > 10");
    const r = await tool("restore", [...D, "--from", bk, "--only", "pg_dump", "--force"]);
    expect(r.code).toBe(0);
    expect(psql(stack, "SELECT count(*) FROM judgements")).toBe("2000");
  });

  it("--stop-writers also archives the Postgres files with Postgres stopped, then starts it again", async () => {
    const out = path.join(TMP, `${stack}-stopped`);
    const pgStart = startedAt(ctr(stack, "postgres"));
    const r = await tool("backup", [...D, "--out", out, "--stop-writers"]);
    expect(r.code).toBe(0);
    const files = manifestOf(out)
      .entries.map((e) => e.file)
      .sort();
    expect(files).toEqual(["judge.tar", "postgres.pgdump", "postgres.tar"]);
    expect(manifestOf(out).entries.find((e) => e.file === "postgres.tar")?.consistency).toBe(
      "container-stopped",
    );
    expect(running(ctr(stack, "postgres"))).toBe(true);
    expect(startedAt(ctr(stack, "postgres"))).not.toBe(pgStart);
    expect(r.stderr).toMatch(
      new RegExp(`stopping ${ctr(stack, "postgres")} \\(graceful, up to 60 s\\)`),
    );
  });
});

describe("an interrupted backup is never presented as complete", () => {
  const stack = stackFile(`it${RUN}c`);
  const D = ["--dir", TMP, "--stack", stack];

  beforeAll(() => {
    docker(["volume", "create", vol(stack, "model_registry")]);
    // Large enough that the tar stream takes a while (incompressible data).
    inHelper(
      { volume: vol(stack, "model_registry") },
      "dd if=/dev/urandom of=/data/model.bin bs=1M count=400 2>/dev/null",
    );
  });

  async function killMidStream(out: string, signal: NodeJS.Signals): Promise<ToolResult> {
    const child = startTool("backup", [...D, "--out", out]);
    const done = finish(child);
    const partial = path.join(out, "model_registry.tar.partial");
    for (let i = 0; i < 600; i++) {
      if (fs.existsSync(partial) && fs.statSync(partial).size > 8 * 1024 * 1024) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fs.statSync(partial).size).toBeGreaterThan(8 * 1024 * 1024);
    child.kill(signal);
    return done;
  }

  it("a crash (SIGKILL) leaves only a .partial file, no manifest, and restore refuses it", async () => {
    const out = path.join(TMP, `${stack}-crashed`);
    const r = await killMidStream(out, "SIGKILL");
    expect(r.code).toBeNull();
    const files = fs.readdirSync(out);
    expect(files).toEqual(["model_registry.tar.partial"]);
    const rr = await tool("restore", [...D, "--from", out, "--force"]);
    expect(rr.code).toBe(1);
    expect(rr.stderr).toMatch(
      /no manifest\.json: the backup did not complete \(interrupted while writing model_registry\.tar\.partial\)/,
    );
  });

  it("Ctrl-C/SIGTERM removes the partial output and starts stopped writers again", async () => {
    runApp(stack, "model-registry", { volume: vol(stack, "model_registry") });
    const out = path.join(TMP, `${stack}-interrupted`);
    const r = await killMidStream(out, "SIGTERM");
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/interrupted; nothing was left half-done/);
    expect(fs.existsSync(out)).toBe(false);
    expect(running(ctr(stack, "model-registry"))).toBe(true);
  });
});

describe("restore's swap step and its undo, run in the helper image", () => {
  const stack = stackFile(`it${RUN}s`);
  const v = { volume: vol(stack, "judge") };
  const swap = (script: string) =>
    docker([
      "run",
      "--rm",
      "--mount",
      mountArg(v),
      BUSYBOX,
      "sh",
      "-c",
      script,
      "sh",
      ".panopticon-restore-t",
      ".panopticon-old-t",
    ]);

  it("swap puts the staged tree (root owner and mode included) in place; unswap puts the old one back", () => {
    docker(["volume", "create", v.volume]);
    inHelper(v, POPULATE);
    const original = snapshot(v);
    inHelper(
      v,
      "mkdir /data/.panopticon-restore-t && cd /data/.panopticon-restore-t && mkdir n && echo new > n/f && echo x > .dot && chown -R 42:43 . && chmod 711 .",
    );
    swap(SWAP_SCRIPT);
    const swapped = snapshot(v);
    expect(swapped.filter((l) => !l.startsWith("./.panopticon-old-t"))).toEqual([
      ".|42:43:711|directory",
      "./.dot|42:43:644|file:" + createHash("sha256").update("x\n").digest("hex"),
      "./n|42:43:755|directory",
      "./n/f|42:43:644|file:" + createHash("sha256").update("new\n").digest("hex"),
    ]);
    swap(UNSWAP_SCRIPT);
    expect(snapshot(v)).toEqual(original);
  });

  it("purge --force stops and removes the containers still using the data, after its backup", async () => {
    runApp(stack, "judge-service", v);
    const out = path.join(TMP, `${stack}-forced`);
    const r = await tool("purge", [
      "--dir",
      TMP,
      "--stack",
      stack,
      "--confirm",
      stack,
      "--force",
      "--out",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`removed container ${ctr(stack, "judge-service")}`));
    expect(volumeExists(v.volume)).toBe(false);
    expect(docker(["ps", "-aq", "--filter", `name=^${ctr(stack, "judge-service")}$`])).toBe("");
    expect(manifestOf(out).entries.map((e) => `${e.file}:${e.consistency}`)).toEqual([
      "judge.tar:container-stopped",
    ]);
  });
});

describe("bind mode: the same round trip on host directories", () => {
  const stack = stackFile(
    `it${RUN}b`,
    `  panopticon:storageMode: bind\n  panopticon:dataDir: ./data-${RUN}`,
  );
  const D = ["--dir", TMP, "--stack", stack];
  const dir = (sub: string) => path.join(TMP, `data-${RUN}`, sub);

  it("backup, purge and restore give identical files, owners and modes", async () => {
    fs.mkdirSync(dir("judge_service"), { recursive: true });
    fs.mkdirSync(dir("query_storage"), { recursive: true });
    inHelper({ bind: dir("judge_service") }, POPULATE);
    inHelper({ bind: dir("query_storage") }, "echo q > /data/q; chown 1000:1000 /data/q");
    const before = [
      snapshot({ bind: dir("judge_service") }),
      snapshot({ bind: dir("query_storage") }),
    ];
    const bk = path.join(TMP, `${stack}-backup`);
    expect((await tool("backup", [...D, "--out", bk])).code).toBe(0);
    const p = await tool("purge", [...D, "--confirm", stack, "--no-backup"]);
    expect(p.code).toBe(0);
    expect(fs.readdirSync(dir("judge_service"))).toEqual([]);
    expect(fs.readdirSync(dir("query_storage"))).toEqual([]);
    const r = await tool("restore", [...D, "--from", bk]);
    expect(r.code).toBe(0);
    expect([
      snapshot({ bind: dir("judge_service") }),
      snapshot({ bind: dir("query_storage") }),
    ]).toEqual(before);
  });
});

describe("production stacks are refused by all three tools", () => {
  const awsStack = stackFile(`it${RUN}aws`);
  fs.writeFileSync(
    path.join(TMP, `Pulumi.${awsStack}.yaml`),
    `config:\n  panopticon:environment: aws\n  panopticon:aws:\n    region: eu-west-1\n${APP_IMAGES_YAML}`,
  );
  const prodDir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-prod-"));

  it.each(["backup", "restore", "purge"] as const)(
    "%s refuses an environment aws stack",
    async (t) => {
      const args = [
        "--dir",
        TMP,
        "--stack",
        awsStack,
        ...(t === "restore" ? ["--from", TMP] : []),
        ...(t === "purge" ? ["--confirm", awsStack] : []),
      ];
      const r = await tool(t, args);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/environment "aws".*local Docker stacks only.*RDS/);
    },
  );

  it("purge refuses a local stack named prod even with the name typed again; its volume stays", async () => {
    fs.writeFileSync(
      path.join(prodDir, "Pulumi.prod.yaml"),
      `config:\n  panopticon:environment: local\n  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}\n`,
    );
    const v = "panopticon-prod-judge-data";
    const existed = volumeExists(v);
    if (!existed) docker(["volume", "create", v]);
    try {
      const r = await tool("purge", [
        "--dir",
        prodDir,
        "--stack",
        "prod",
        "--confirm",
        "prod",
        "--no-backup",
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/named like a production stack/);
      expect(volumeExists(v)).toBe(true);
    } finally {
      if (!existed) docker(["volume", "rm", v]);
      fs.rmSync(prodDir, { recursive: true, force: true });
    }
  });
});
