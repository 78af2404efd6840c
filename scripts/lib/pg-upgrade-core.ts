import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { LABELS } from "../../components/contract";
import { postgresMajorOf } from "../../components/config/services";
import { ServiceSettings, Settings } from "../../components/config/settings";
import { restoreDump } from "./pg-upgrade-restore";
import { formatBytes, writeStreamed } from "./archive";
import { defaultBackupDir, runBackup } from "./backup-core";
import {
  assertEngine,
  DataMount,
  docker,
  HELPER_LABEL,
  helperRunArgs,
  inspectContainer,
  volumeExists,
} from "./docker";
import { probeIfPresent } from "./doctor-core";
import { clusterFacts, compareFacts, summarize } from "./pg-verify";
import { diskProblems, freeBytes, freeBytesLocal } from "./pg-upgrade-disk";
import { serverMajor, unexpectedRestoreErrors, waitReady } from "./pg-server";
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

/*
 * The new data's place, made and looked for by the engine itself: a bind
 * directory of a remote Docker host is on that host, not here.
 */
function inParent(helper: string, m: DataMount, readOnly: boolean, script: string): string[] {
  return helperRunArgs({
    image: helper,
    mount: { type: "bind", source: path.posix.dirname(m.source) },
    readOnly,
    purpose: "pg-upgrade",
    command: ["sh", "-c", script, "sh", path.posix.basename(m.source)],
  });
}

async function placeExists(helper: string, m: DataMount): Promise<boolean> {
  if (m.type === "volume") return volumeExists(m.source);
  return (
    (await docker(inParent(helper, m, true, '[ -e "/data/$1" ]'), { allowFail: true })).code === 0
  );
}

async function createPlace(helper: string, m: DataMount, set: string): Promise<void> {
  if (m.type === "volume") {
    await docker(["volume", "create", "--label", `${LABELS.dataSet}=${set}`, m.source]);
  } else {
    await docker(inParent(helper, m, false, 'mkdir "/data/$1" && chmod 0700 "/data/$1"'));
  }
}

async function removePlace(helper: string, m: DataMount): Promise<void> {
  if (m.type === "volume") await docker(["volume", "rm", "-f", m.source]);
  else await docker(inParent(helper, m, false, 'rm -rf "/data/$1"'));
}

export async function runUpgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const { settings: s, log } = o;
  const pg = s.services.find((x) => x.kind === "postgres");
  if (pg?.dataSet === undefined) {
    throw new UsageError(
      `stack ${s.stack} runs no Postgres container with a data set: nothing to upgrade`,
    );
  }
  const ds = pg.dataSet;
  const old = mountOf(ds);
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

  const suffix = `-pg${o.to}`;
  const base = old.source.replace(/-pg\d+$/, "");
  const fresh = { type: old.type, source: `${base}${suffix}` } as const;
  const newBindDir = path.basename(fresh.source);
  if (fresh.source === old.source) {
    throw new RefusedError(
      `${describeMount(old)} already carries the major ${o.to} in its name: nothing to do`,
    );
  }
  const exists = await placeExists(o.helperImage, fresh);
  if (exists) {
    throw new RefusedError(
      `${describeMount(fresh)} already exists: expected a new place for the major-${o.to} data (remove it if it is a failed attempt)`,
    );
  }

  const backupDir = defaultBackupDir(o.dir, s.stack, new Date(), `-pre-pg${o.to}`);
  const disk = diskProblems(found.bytes, o.headroom, [
    {
      what: `the Docker disk holding ${describeMount(old)}`,
      free: await freeBytes(o.helperImage, old),
    },
    {
      what: `the backup directory's disk (${path.dirname(backupDir)})`,
      free: freeBytesLocal(o.dir),
    },
  ]);
  if (disk.length > 0) throw new RefusedError(`not enough disk: ${disk.join("; ")}`);

  log(
    `pg-upgrade of stack ${s.stack}: Postgres ${current} -> ${o.to} (${image}); ${describeMount(old)} is only read`,
  );
  const pgOnly = { ...s, dataSets: s.dataSets.filter((d) => d.key === ds.key) };
  const backup = await runBackup({
    settings: pgOnly,
    outDir: backupDir,
    helperImage: o.helperImage,
    stopWriters: false,
    stopTimeout: s.stopGraceSeconds,
    log,
  });
  const { user } = s.postgres;
  const dumpDir = `${backup.dir}-dumpall`;
  fs.mkdirSync(dumpDir);
  const dump = await writeStreamed(dumpDir, "pg_dumpall.sql", "pg_dumpall", (sink) =>
    docker(["exec", pg.containerName, "pg_dumpall", "-U", user], { output: sink }).then(
      () => undefined,
    ),
  );
  log(
    `pg_dumpall: ${formatBytes(dump.bytes)} -> ${path.join(dumpDir, dump.file)} (sha256 ${dump.sha256.slice(0, 16)}...)`,
  );
  const before = await clusterFacts(pg.containerName, user);
  log(`old cluster: ${summarize(before)}`);

  const name = `${pg.containerName}-upgrade-${randomBytes(3).toString("hex")}`;
  const cleanup: Array<() => Promise<unknown>> = [];
  const undo = pushUndo(
    `remove the upgrade's server ${name} and ${describeMount(fresh)}`,
    async () => {
      for (const f of cleanup.reverse()) await f().catch(() => undefined);
    },
  );
  try {
    await createPlace(o.helperImage, fresh, ds.key);
    cleanup.push(() => removePlace(o.helperImage, fresh));
    const password = randomBytes(16).toString("hex");
    const mountSpec = `type=${fresh.type},src=${fresh.source},dst=${ds.mountPath}`;
    await docker([
      "run",
      "-d",
      "--name",
      name,
      "--network",
      "none",
      "--label",
      `${HELPER_LABEL}=pg-upgrade`,
      "-e",
      `POSTGRES_USER=${user}`,
      "-e",
      `POSTGRES_PASSWORD=${password}`,
      "-e",
      `PGDATA=${ds.mountPath}`,
      "--mount",
      mountSpec,
      image,
    ]);
    cleanup.push(() => docker(["rm", "-f", name]));
    await waitReady(name, user, password);
    log(`new Postgres ${o.to} cluster initialised in ${describeMount(fresh)}; restoring the dump`);
    const restoreErrors = await restoreDump({
      container: name,
      user,
      file: path.join(dumpDir, dump.file),
      log,
    });
    const errors = unexpectedRestoreErrors(restoreErrors, user);
    if (errors.length > 0)
      throw new Error(`the restore reported errors: ${errors.slice(0, 5).join(" | ")}`);
    const after = await clusterFacts(name, user);
    const diff = compareFacts(before, after);
    if (diff.length > 0) {
      throw new Error(
        `the new cluster differs from the old one (if the apps wrote meanwhile, stop them and run again): ${diff.slice(0, 10).join("; ")}`,
      );
    }
    log(`verified: ${summarize(after)}`);
    await docker(["stop", "--time", String(s.stopGraceSeconds), name]);
    await docker(["rm", name]);
    cleanup.pop();

    const revert = await pointStackAt(
      o,
      pg,
      ds.key,
      fresh.type === "volume" ? fresh.source : newBindDir,
      image,
    );
    undo();
    return {
      backupDir: backup.dir,
      newData: describeMount(fresh),
      oldData: describeMount(old),
      revert,
    };
  } catch (e) {
    undo();
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
    throw e;
  }
}
