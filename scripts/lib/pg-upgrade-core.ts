import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { postgresMajorOf } from "../../components/config/services";
import { DataSetSettings, ServiceSettings, Settings } from "../../components/config/settings";
import { restoreDump } from "./pg-upgrade-restore";
import { formatBytes, writeStreamed } from "./archive";
import { defaultBackupDir, runBackup } from "./backup-core";
import { assertEngine, DataMount, docker, HELPER_LABEL, inspectContainer } from "./docker";
import { probeIfPresent } from "./doctor-core";
import { clusterFacts, compareFacts, summarize } from "./pg-verify";
import { diskProblems, freeBytes, freeBytesLocal } from "./pg-upgrade-disk";
import { serverMajor, unexpectedRestoreErrors, waitReady } from "./pg-server";
import { createPlace, placeExists, removePlace } from "./pg-upgrade-place";
import { pointStackAt } from "./pg-upgrade-switch";

export { unexpectedRestoreErrors };
import { mountOf, describeMount, RefusedError, UsageError } from "./stack";
import { pushUndo } from "./undo";

/*
 * A Postgres major upgrade of a local stack by dump and restore, never touching
 * the old data: backup, pg_dumpall from the running server, a new volume or
 * directory named for the major, a server of the target major initialised on it
 * and given the dump, row counts and extensions compared, and only then the stack
 * file pointed at the new data. Going back is setting that one value back.
 */

export interface UpgradeOptions {
  readonly settings: Settings;
  /** The project directory (stack file, backups/). */
  readonly dir: string;
  readonly to: number;
  /** Image of the target server. @default the stack's, when it runs major `to` */
  readonly image?: string;
  readonly helperImage: string;
  /** Free space required, as a multiple of the data's size, on each disk written. */
  readonly headroom: number;
  readonly log: (line: string) => void;
}

export interface UpgradeResult {
  readonly backupDir: string;
  readonly newData: string;
  readonly oldData: string;
  readonly revert: string;
}

function targetImage(pg: ServiceSettings, to: number, image: string | undefined): string {
  if (image !== undefined) return image;
  if (pg.image !== undefined && postgresMajorOf(pg.image) === to) return pg.image;
  throw new UsageError(
    `--image is required: the stack's image ${pg.image ?? "(built from source)"} does not run Postgres ${to}; ` +
      `expected an image of the target major, e.g. --image pgvector/pgvector:pg${to}`,
  );
}

/** What the preflight found: the server, its data, the current major and the target image. */
interface Upgrade {
  readonly pg: ServiceSettings;
  readonly ds: DataSetSettings;
  readonly old: DataMount;
  readonly current: number;
  /** Size of the old data, for the disk check. */
  readonly bytes: number;
  readonly image: string;
}

/** The backup, the dump and the old cluster's facts, taken before anything new exists. */
interface Dumped {
  readonly backupDir: string;
  readonly dumpFile: string;
  readonly before: Awaited<ReturnType<typeof clusterFacts>>;
}

export async function runUpgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const u = await preflight(o);
  const fresh = await freshPlace(o, u.old);
  const backupDir = await checkDisk(o, u);
  o.log(
    `pg-upgrade of stack ${o.settings.stack}: Postgres ${u.current} -> ${o.to} (${u.image}); ${describeMount(u.old)} is only read`,
  );
  const dumped = await backupAndDump(o, u, backupDir);
  const name = `${u.pg.containerName}-upgrade-${randomBytes(3).toString("hex")}`;
  const cleanup: Array<() => Promise<unknown>> = [];
  const undo = pushUndo(
    `remove the upgrade's server ${name} and ${describeMount(fresh)}`,
    async () => {
      for (const f of cleanup.reverse()) await f().catch(() => undefined);
    },
  );
  try {
    await newCluster(o, u, { fresh, name, dumped, cleanup });
    const place = fresh.type === "volume" ? fresh.source : path.basename(fresh.source);
    const revert = await pointStackAt(o, u.pg, u.ds.key, place, u.image);
    undo();
    return {
      backupDir: dumped.backupDir,
      newData: describeMount(fresh),
      oldData: describeMount(u.old),
      revert,
    };
  } catch (e) {
    undo();
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
    throw e;
  }
}

/** Everything that can refuse before anything is written: the cluster, the major, the image. */
async function preflight(o: UpgradeOptions): Promise<Upgrade> {
  const s = o.settings;
  const pg = s.services.find((x) => x.kind === "postgres");
  if (pg?.dataSet === undefined) {
    throw new UsageError(
      `stack ${s.stack} runs no Postgres container with a data set: nothing to upgrade`,
    );
  }
  const old = mountOf(pg.dataSet);
  await assertEngine();
  const found = await probeIfPresent(o.helperImage, old);
  if (found?.pgVersion === undefined) {
    throw new RefusedError(
      `${describeMount(old)} holds no Postgres cluster (no PG_VERSION): nothing to upgrade`,
    );
  }
  const current = Number(found.pgVersion);
  if (o.to < current) {
    throw new UsageError(
      `--to = ${o.to}: lower than the current major ${current} (PG_VERSION of ${describeMount(old)}): ` +
        `expected ${current} or higher; Postgres cannot move data to an older major`,
    );
  }
  const image = targetImage(pg, o.to, o.image);
  const running = await inspectContainer(pg.containerName);
  if (running?.running !== true) {
    throw new RefusedError(
      `the Postgres server ${pg.containerName} is not running: pg_dumpall reads the running server; ` +
        `start it (pulumi up) and run pg-upgrade again`,
    );
  }
  const imageMajor = await serverMajor(image);
  if (imageMajor !== o.to) {
    throw new UsageError(
      `--image = ${JSON.stringify(image)}: runs Postgres ${imageMajor}, expected Postgres ${o.to} (--to)`,
    );
  }
  return { pg, ds: pg.dataSet, old, current, bytes: found.bytes, image };
}

/** The new data's place, named for the major (`<old>-pg<to>`); it must not exist yet. */
async function freshPlace(o: UpgradeOptions, old: DataMount): Promise<DataMount> {
  const base = old.source.replace(/-pg\d+$/, "");
  const fresh = { type: old.type, source: `${base}-pg${o.to}` } as const;
  if (fresh.source === old.source) {
    throw new RefusedError(
      `${describeMount(old)} already carries the major ${o.to} in its name: nothing to do`,
    );
  }
  if (await placeExists(o.helperImage, fresh)) {
    throw new RefusedError(
      `${describeMount(fresh)} already exists: expected a new place for the major-${o.to} data (remove it if it is a failed attempt)`,
    );
  }
  return fresh;
}

/** Room for the new data and for the backup, or a refusal; the backup's directory. */
async function checkDisk(o: UpgradeOptions, u: Upgrade): Promise<string> {
  const backupDir = defaultBackupDir(o.dir, o.settings.stack, new Date(), `-pre-pg${o.to}`);
  const disk = diskProblems(u.bytes, o.headroom, [
    {
      what: `the Docker disk holding ${describeMount(u.old)}`,
      free: await freeBytes(o.helperImage, u.old),
    },
    {
      what: `the backup directory's disk (${path.dirname(backupDir)})`,
      free: freeBytesLocal(o.dir),
    },
  ]);
  if (disk.length > 0) throw new RefusedError(`not enough disk: ${disk.join("; ")}`);
  return backupDir;
}

/** A backup of the Postgres data set, a pg_dumpall of the running server, its facts. */
async function backupAndDump(o: UpgradeOptions, u: Upgrade, outDir: string): Promise<Dumped> {
  const s = o.settings;
  const pgOnly = { ...s, dataSets: s.dataSets.filter((d) => d.key === u.ds.key) };
  const backup = await runBackup({
    settings: pgOnly,
    outDir,
    helperImage: o.helperImage,
    stopWriters: false,
    stopTimeout: s.stopGraceSeconds,
    log: o.log,
  });
  const { user } = s.postgres;
  const dumpDir = `${backup.dir}-dumpall`;
  fs.mkdirSync(dumpDir);
  const dump = await writeStreamed(dumpDir, "pg_dumpall.sql", "pg_dumpall", (sink) =>
    docker(["exec", u.pg.containerName, "pg_dumpall", "-U", user], { output: sink }).then(
      () => undefined,
    ),
  );
  o.log(
    `pg_dumpall: ${formatBytes(dump.bytes)} -> ${path.join(dumpDir, dump.file)} (sha256 ${dump.sha256.slice(0, 16)}...)`,
  );
  const before = await clusterFacts(u.pg.containerName, user);
  o.log(`old cluster: ${summarize(before)}`);
  return { backupDir: backup.dir, dumpFile: path.join(dumpDir, dump.file), before };
}

/** Where the new cluster is built, and the undo steps taken so far (newest last). */
interface Build {
  readonly fresh: DataMount;
  readonly name: string;
  readonly dumped: Dumped;
  readonly cleanup: Array<() => Promise<unknown>>;
}

/** The new cluster: initialised in its place, given the dump, compared, then stopped. */
async function newCluster(o: UpgradeOptions, u: Upgrade, b: Build): Promise<void> {
  const { user } = o.settings.postgres;
  await createPlace(o.helperImage, b.fresh, u.ds.key);
  b.cleanup.push(() => removePlace(o.helperImage, b.fresh));
  const password = randomBytes(16).toString("hex");
  await startServer(u, b, user, password);
  b.cleanup.push(() => docker(["rm", "-f", b.name]));
  await waitReady(b.name, user, password);
  o.log(
    `new Postgres ${o.to} cluster initialised in ${describeMount(b.fresh)}; restoring the dump`,
  );
  const restoreErrors = await restoreDump({
    container: b.name,
    user,
    file: b.dumped.dumpFile,
    log: o.log,
  });
  const errors = unexpectedRestoreErrors(restoreErrors, user);
  if (errors.length > 0)
    throw new Error(`the restore reported errors: ${errors.slice(0, 5).join(" | ")}`);
  const after = await clusterFacts(b.name, user);
  const diff = compareFacts(b.dumped.before, after);
  if (diff.length > 0) {
    throw new Error(
      `the new cluster differs from the old one (if the apps wrote meanwhile, stop them and run again): ${diff.slice(0, 10).join("; ")}`,
    );
  }
  o.log(`verified: ${summarize(after)}`);
  await docker(["stop", "--time", String(o.settings.stopGraceSeconds), b.name]);
  await docker(["rm", b.name]);
  b.cleanup.pop();
}

/** A server of the target major on the new place, with no network and a one-time password. */
async function startServer(u: Upgrade, b: Build, user: string, password: string): Promise<void> {
  const mountSpec = `type=${b.fresh.type},src=${b.fresh.source},dst=${u.ds.mountPath}`;
  await docker([
    "run",
    "-d",
    "--name",
    b.name,
    "--network",
    "none",
    "--label",
    `${HELPER_LABEL}=pg-upgrade`,
    "-e",
    `POSTGRES_USER=${user}`,
    "-e",
    `POSTGRES_PASSWORD=${password}`,
    "-e",
    `PGDATA=${u.ds.mountPath}`,
    "--mount",
    mountSpec,
    u.image,
  ]);
}
