import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { STAND_IN_SOURCE } from "./checkouts";
import { CONTRACT_APPS } from "./compose-contract";

/*
 * Helpers of the doctor and pg-upgrade tests on the real Docker engine: stack files
 * with the local test images, a Postgres and app containers named like the
 * program's, the tools run as separate processes the way `npm run` starts them.
 * Every name carries a random per-run stack name; cleanupEngine() removes them.
 */

const REPO = path.resolve(__dirname, "..", "..");
export const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
export const PG_IMAGE = process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";
export const RUN = randomBytes(3).toString("hex");
export const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-pg-upgrade-"));
const APPS = CONTRACT_APPS;
const stacks: string[] = [];

export function docker(args: string[], allowFail = false): string {
  const r = spawnSync("docker", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !allowFail) throw new Error(`docker ${args.join(" ")}: ${r.stderr}`);
  return (r.stdout ?? "").trim();
}

export function tool(t: "doctor" | "pg-upgrade" | "migrate-data", args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(
      process.execPath,
      ["--import", "tsx", path.join("scripts", `${t}.ts`), ...args],
      {
        cwd: REPO,
      },
    );
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export function stackFile(stack: string, extra: string[] = []): string {
  stacks.push(stack);
  fs.writeFileSync(
    path.join(TMP, `Pulumi.${stack}.yaml`),
    [
      "# a stack of the pg-upgrade test",
      "config:",
      "  panopticon:environment: local",
      `  panopticon:initImage: ${BUSYBOX}`,
      "  panopticon:stopGraceSeconds: 60",
      // The compose-era layout, from the fixture checkout; every image is pinned below.
      `  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}`,
      ...extra,
      "  panopticon:services:",
      "    postgres:",
      `      image: ${PG_IMAGE} # the test image`,
      ...APPS.flatMap((s) => [`    ${s}:`, `      image: ${BUSYBOX}`]),
      "",
    ].join("\n"),
  );
  return stack;
}

export const vol = (stack: string, set: string) =>
  `panopticon-${stack}-${set.replace(/_/g, "-")}-data`;
export const ctr = (stack: string, service: string) => `panopticon-${stack}-${service}`;

export function psql(container: string, sql: string, db = "panopticon"): string {
  return docker(["exec", container, "psql", "-X", "-U", "postgres", "-d", db, "-tAc", sql]);
}

/** An app container mounting its data set, with its persist variable set to `persist`. */
export function startApp(
  stack: string,
  service: string,
  set: string,
  mountPath: string,
  env: string,
): void {
  docker([
    "run",
    "-d",
    "--name",
    ctr(stack, service),
    "--mount",
    `type=volume,src=${vol(stack, set)},dst=${mountPath}`,
    "-e",
    env,
    BUSYBOX,
    "sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 1; done",
  ]);
}

/** Removes every container, volume and file of the stacks made through stackFile(). */
export function cleanupEngine(): void {
  // Postgres leaves its files owned by its own uid: removed from inside a container.
  docker(
    ["run", "--rm", "--mount", `type=bind,src=${TMP},dst=/t`, BUSYBOX, "sh", "-c", "rm -rf /t/*"],
    true,
  );
  for (const s of stacks) {
    const names = docker(["ps", "-aq", "--filter", `name=panopticon-${s}-`], true)
      .split("\n")
      .filter(Boolean);
    if (names.length > 0) docker(["rm", "-f", ...names], true);
    const vols = docker(["volume", "ls", "-q", "--filter", `name=panopticon-${s}-`], true)
      .split("\n")
      .filter(Boolean);
    if (vols.length > 0) docker(["volume", "rm", "-f", ...vols], true);
  }
  fs.rmSync(TMP, { recursive: true, force: true });
}
