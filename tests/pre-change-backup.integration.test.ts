import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { STAND_IN_SOURCE } from "./support/checkouts";
import { cliStackConfig, PROJECT_DIR, runProgram } from "./support/harness";
import { previewDigest } from "./support/preview-builder";
import { CONTRACT_APPS } from "./support/compose-contract";

/*
 * backup:before-change on the real engine, given previews built from two runs of
 * the program under mocks: an image change of a data-bearing service is backed up
 * first (its path printed); an image change of a service without data is not.
 */

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, "..");
const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
const RUN = randomBytes(3).toString("hex");
const STACK = `pcb${RUN}`;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-pre-change-"));
const APPS = CONTRACT_APPS;
const VOLUME = `panopticon-${STACK}-query-data`;

function docker(args: string[], allowFail = false): string {
  const r = spawnSync("docker", args, { encoding: "utf8" });
  if (r.status !== 0 && !allowFail) throw new Error(`docker ${args.join(" ")}: ${r.stderr}`);
  return (r.stdout ?? "").trim();
}

function writeStack(images: Record<string, string>): void {
  fs.writeFileSync(
    path.join(TMP, `Pulumi.${STACK}.yaml`),
    [
      "config:",
      "  panopticon:environment: local",
      `  panopticon:initImage: ${BUSYBOX}`,
      "  panopticon:stopGraceSeconds: 60",
      // The compose-era layout, from the fixture checkout; every image is pinned below.
      `  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}`,
      "  panopticon:services:",
      "    postgres:",
      "      image: pgvector/pgvector:0.8.0-pg15-bookworm",
      ...APPS.flatMap((s) => [`    ${s}:`, `      image: ${images[s] ?? BUSYBOX}`]),
      "",
    ].join("\n"),
  );
}

async function previewFile(images: Record<string, string>): Promise<string> {
  writeStack({});
  const before = await runProgram({ stack: STACK, config: cliStackConfig(STACK, TMP) });
  writeStack(images);
  const after = await runProgram({ stack: STACK, config: cliStackConfig(STACK, TMP) });
  if (before.error || after.error) throw before.error ?? after.error;
  writeStack({});
  const file = path.join(TMP, `preview-${randomBytes(3).toString("hex")}.json`);
  fs.writeFileSync(file, previewDigest(before, after));
  return file;
}

function tool(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/pre-change-backup.ts", "--dir", TMP, "--stack", STACK, ...args],
      { cwd: REPO },
    );
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(TMP, "Pulumi.yaml"));
  docker(["volume", "create", VOLUME]);
  docker([
    "run",
    "--rm",
    "--mount",
    `type=volume,src=${VOLUME},dst=/data`,
    BUSYBOX,
    "sh",
    "-c",
    "echo sqlite > /data/chroma.sqlite3; mkdir /data/seg1; echo x > /data/seg1/data.bin",
  ]);
});

afterAll(() => {
  docker(["volume", "rm", "-f", VOLUME], true);
  fs.rmSync(TMP, { recursive: true, force: true });
});

it("a new image for query-storage: its data set is backed up first and the path printed", async () => {
  const preview = await previewFile({ "query-storage": `${BUSYBOX}-next` });
  const r = await tool(["--preview", preview]);
  expect(r.stderr).toMatch(/query-storage \(data set query\): image sha256:\S+ -> sha256:\S+/);
  expect(r.code).toBe(0);
  const dir = r.stdout.trim();
  expect(dir).toMatch(new RegExp(`backups/${STACK}-\\d{8}T\\d{6}Z-pre-change$`));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
  expect(manifest.entries.map((e: { file: string }) => e.file)).toEqual(["query.tar"]);
  const listing = spawnSync("tar", ["-tf", path.join(dir, "query.tar")], {
    encoding: "utf8",
  }).stdout;
  expect(listing).toContain("./chroma.sqlite3");
});

it("a new image for main-app (no data) takes no backup and prints nothing", async () => {
  const preview = await previewFile({ "main-app": `${BUSYBOX}-next` });
  const r = await tool(["--preview", preview]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(
    /no data-bearing service of stack \S+ changes its image: no backup needed/,
  );
});

it("an unreadable preview is bad input: exit 2, no backup", async () => {
  const r = await tool(["--preview", path.join(TMP, "missing.json")]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--preview = ".*missing\.json": cannot read it \(ENOENT\)/);
  expect(r.stdout).toBe("");
});
