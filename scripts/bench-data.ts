import { spawnSync } from "child_process";
import { InvalidArgumentError } from "commander";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadStack } from "./lib/stack";
import { fixtureCompose } from "./bench/fixture-checkout";
import { parseOptions, run, toolCommand } from "./lib/cli";
import { EnvironmentError } from "./lib/exit-codes";

/** The services of the fixture checkout the bench builds (compose era, seven services). */
const FIXTURE_SERVICES = Object.keys(fixtureCompose("compose-era").services);

/*
 * npm run bench:data -- [--runs 3] [--mib 512] [--files 2000] [--helper-image IMAGE]
 *
 * Backup throughput against its floor, on the real Docker engine: the same data
 * (random bytes, which do not compress, plus many small files) split over two
 * data sets, archived by `npm run backup` and by a plain `tar` of each volume in a
 * container onto a bind-mounted directory, one after the other. Prints each
 * run's wall time, the MiB/s and the throughput ratio backup/plain tar. A report,
 * not a test: nothing here asserts a time. Every volume and file it makes carries
 * a random per-run name and is removed at the end.
 */

const REPO = path.resolve(__dirname, "..");

function positiveInt(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < 1 || n > max) {
      throw new InvalidArgumentError(
        `${name} = ${JSON.stringify(v)}: expected a whole number from 1 to ${max}`,
      );
    }
    return n;
  };
}

const program = toolCommand(
  "bench:data",
  "Measure npm run backup against a plain in-container tar of the same data",
)
  .option("--runs <n>", "measured runs of each (after one warm-up)", positiveInt("--runs", 20), 3)
  .option("--mib <n>", "MiB of random data in all", positiveInt("--mib", 16384), 512)
  .option("--files <n>", "small files in all", positiveInt("--files", 100000), 2000)
  .option("--helper-image <image>", "image with tar and sh", "panopticon-test/busybox:1");

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 4).join(" ")} ... failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Options {
  runs: number;
  mib: number;
  files: number;
  helperImage: string;
}

function assertEngine(): void {
  const engine = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    encoding: "utf8",
  });
  if (engine.status !== 0) {
    const why = engine.error?.message ?? engine.stderr.trim().split("\n").pop();
    throw new EnvironmentError(
      `no Docker engine answers (docker info: ${why}); start dockerd (scripts/docker-setup.sh does) or set DOCKER_HOST`,
    );
  }
}

/** A throwaway stack file in `tmp`; returns the stack and the volumes of two of its data sets. */
function writeStack(tmp: string, image: string): { stack: string; volumes: string[] } {
  const stack = `bench${randomBytes(3).toString("hex")}`;
  fs.writeFileSync(
    path.join(tmp, `Pulumi.${stack}.yaml`),
    [
      "config:",
      "  panopticon:environment: local",
      `  panopticon:initImage: ${image}`,
      "  panopticon:stopGraceSeconds: 60",
      // Every service needs a prebuilt image to validate; none is started here.
      "  panopticon:postgresMajor: 15",
      "  panopticon:services:",
      ...FIXTURE_SERVICES.flatMap((s) => [`    ${s}:`, `      image: ${image}`]),
      "",
    ].join("\n"),
  );
  // The stack's own volume names, from the same settings code as the program.
  const sets = loadStack(stack, tmp)
    .dataSets.filter((d) => d.volumeName !== undefined && d.key !== "postgres")
    .slice(0, 2);
  return { stack, volumes: sets.map((d) => d.volumeName!) };
}

/** Random bytes and many small files in each volume; returns the bytes of random data. */
function fillVolumes(volumes: readonly string[], o: Options): number {
  const perSet = Math.max(1, Math.floor(o.mib / volumes.length));
  const filesPerSet = Math.max(1, Math.floor(o.files / volumes.length));
  for (const v of volumes) {
    sh("docker", ["volume", "create", v]);
    sh("docker", [
      "run",
      "--rm",
      "--mount",
      `type=volume,src=${v},dst=/data`,
      o.helperImage,
      "sh",
      "-c",
      `set -e; dd if=/dev/urandom of=/data/blob bs=1M count=${perSet} 2>/dev/null; mkdir /data/small; ` +
        `i=0; while [ $i -lt ${filesPerSet} ]; do echo "small file $i" > /data/small/f$i; i=$((i+1)); done`,
    ]);
  }
  process.stderr.write(
    `data: ${volumes.join(", ")}: ${perSet * volumes.length} MiB random + ${filesPerSet * volumes.length} small files\n`,
  );
  return volumes.length * perSet * 1024 * 1024;
}

/** The floor: one plain tar per volume, in a container, onto a bind-mounted directory. */
function plainTar(volumes: readonly string[], image: string, out: string): void {
  fs.mkdirSync(out);
  for (const v of volumes) {
    sh("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      "--mount",
      `type=volume,src=${v},dst=/data,readonly`,
      "--mount",
      `type=bind,src=${out},dst=/out`,
      image,
      "tar",
      "-c",
      "-f",
      `/out/${v}.tar`,
      "-C",
      "/data",
      ".",
    ]);
  }
  fs.rmSync(out, { recursive: true, force: true });
}

/** `npm run backup` of the stack, as a process. */
function backupOnce(stack: string, dir: string, out: string): void {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(REPO, "scripts", "backup.ts"),
      "--stack",
      stack,
      "--dir",
      dir,
      "--out",
      out,
    ],
    { cwd: REPO, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`backup failed (${r.status}): ${r.stderr}`);
  fs.rmSync(out, { recursive: true, force: true });
}

/** One warm-up of each, then `runs` alternated timings of each. */
function timeRuns(runs: number, plain: () => void, backup: () => void) {
  process.stderr.write("warm-up: one run of each (page cache, image layers)\n");
  plain();
  backup();
  const tPlain: number[] = [];
  const tBackup: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternated, so a change in the machine's load hits both alike.
    tPlain.push(timed(plain));
    tBackup.push(timed(backup));
    process.stderr.write(
      `run ${i + 1}/${runs}: plain tar ${tPlain[i].toFixed(2)} s, backup ${tBackup[i].toFixed(2)} s\n`,
    );
  }
  return { tPlain, tBackup };
}

function printTable(runs: number, bytes: number, tPlain: number[], tBackup: number[]): void {
  const mibs = (t: number) => bytes / 1024 / 1024 / t;
  const p = median(tPlain);
  const b = median(tBackup);
  const row = (name: string, m: number, ts: number[]) => [
    name,
    m.toFixed(2),
    Math.min(...ts).toFixed(2),
    Math.max(...ts).toFixed(2),
    mibs(m).toFixed(0),
  ];
  const rows = [
    ["", "median s", "min s", "max s", "MiB/s (median)"],
    row("plain tar", p, tPlain),
    row("npm run backup", b, tBackup),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) {
    process.stdout.write(r.map((cell, c) => cell.padStart(widths[c])).join("  ") + "\n");
  }
  process.stdout.write(
    `throughput ratio backup/plain tar: ${(p / b).toFixed(2)}x (median of ${runs}; the issue's target is >= 0.8x)\n`,
  );
}

async function main(): Promise<void> {
  const o = parseOptions<Options>(program);
  assertEngine();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-data-"));
  let volumes: string[] = [];
  try {
    const made = writeStack(tmp, o.helperImage);
    volumes = made.volumes;
    const outRoot = path.join(tmp, "out");
    fs.mkdirSync(outRoot);
    const bytes = fillVolumes(volumes, o);
    let n = 0;
    const { tPlain, tBackup } = timeRuns(
      o.runs,
      () => plainTar(volumes, o.helperImage, path.join(outRoot, `plain-${n++}`)),
      () => backupOnce(made.stack, tmp, path.join(outRoot, `backup-${n++}`)),
    );
    printTable(o.runs, bytes, tPlain, tBackup);
  } finally {
    for (const v of volumes) spawnSync("docker", ["volume", "rm", "-f", v], { stdio: "ignore" });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

run("bench:data", main);
