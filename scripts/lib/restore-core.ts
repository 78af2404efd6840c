import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ServiceSettings, Settings } from "../../components/config/settings";
import { formatBytes, hashFile } from "./archive";
import {
  allContainers,
  assertEngine,
  ContainerInfo,
  containersUsing,
  DataMount,
  docker,
  psqlQuery,
  helperRunArgs,
  inspectContainer,
  volumeExists,
} from "./docker";
import {
  ArchiveEntry,
  BackupInvalidError,
  DumpEntry,
  Entry,
  Manifest,
  readManifest,
} from "./manifest";
import { DUMP_NAME, Staging, Target } from "./restore-stage";
import { assertLocal, describeMount, parseOnly, RefusedError, UsageError } from "./stack";
import { pushUndo, uninterruptible } from "./undo";
import { withStopped } from "./writers";

/*
 * Restore in three phases so that a failure leaves the data as it was:
 *   1. check: manifest, every checksum, emptiness, running containers (nothing touched);
 *   2. stage: extract each archive into a hidden directory inside its own volume
 *      (and restore the dump in one transaction); a failure removes the stages;
 *   3. swap: per data set, move the current contents aside and the staged ones up
 *      (renames on one filesystem), then delete what was moved aside.
 * Phase 1 is here; phases 2 and 3 are restore-stage.ts.
 */

export {
  CHOWN_LINKS_SCRIPT,
  DUMP_NAME,
  STAGE_SCRIPT,
  SWAP_SCRIPT,
  UNSWAP_SCRIPT,
} from "./restore-stage";

export interface RestoreOptions {
  readonly settings: Settings;
  readonly fromDir: string;
  readonly helperImage: string;
  /** Replace non-empty data / a non-empty database. */
  readonly force: boolean;
  /** Stop running containers that use a target (graceful) and start them again afterwards. */
  readonly stopWriters: boolean;
  readonly stopTimeout: number;
  /** `--only` value: data-set keys and/or `pg_dump`. */
  readonly only?: string;
  readonly log: (line: string) => void;
}

/** Decides which manifest entries to restore. Pure. */
export function selectEntries(manifest: Manifest, settings: Settings, only?: string): Entry[] {
  const names = manifest.entries.map((e) => (e.kind === "pg_dump" ? DUMP_NAME : e.dataSet));
  const chosen = parseOnly(only, names);
  const pgKey = settings.services.find((s) => s.kind === "postgres")?.dataSet?.key;
  const selected = manifest.entries.filter(
    (e) => chosen === undefined || chosen.has(e.kind === "pg_dump" ? DUMP_NAME : e.dataSet),
  );
  const hasPgArchive = selected.some((e) => e.kind === "archive" && e.dataSet === pgKey);
  const hasDump = selected.some((e) => e.kind === "pg_dump");
  if (hasPgArchive && hasDump) {
    if (chosen !== undefined) {
      throw new UsageError(
        `--only = ${JSON.stringify(only)}: choose either ${pgKey} (the volume files) or ${DUMP_NAME} (the logical dump), not both`,
      );
    }
    // Both describe the same database; the files are the complete copy.
    return selected.filter((e) => e.kind !== "pg_dump");
  }
  for (const e of selected) {
    if (e.kind === "archive" && !settings.dataSets.some((d) => d.key === e.dataSet)) {
      throw new RefusedError(
        `backup holds data set "${e.dataSet}", which stack ${settings.stack} does not define ` +
          `(known: ${settings.dataSets.map((d) => d.key).join(", ")}); leave it out with --only`,
      );
    }
  }
  return selected;
}

async function verifyChecksums(dir: string, entries: readonly Entry[], log: (l: string) => void) {
  for (const e of entries) {
    const p = path.join(dir, e.file);
    if (!fs.existsSync(p))
      throw new BackupInvalidError(dir, `${e.file} is listed in the manifest but missing`);
    const { sha256, bytes } = await hashFile(p, `verify ${e.file}`);
    if (sha256 !== e.sha256 || bytes !== e.bytes) {
      throw new BackupInvalidError(
        dir,
        `checksum mismatch for ${e.file}: manifest says sha256 ${e.sha256} (${e.bytes} bytes), ` +
          `file has ${sha256} (${bytes} bytes); the file is damaged or was changed`,
      );
    }
    log(`  ${e.file}: ${formatBytes(bytes)}, sha256 ok`);
  }
}

async function entriesIn(mount: DataMount, helperImage: string): Promise<string[]> {
  const r = await docker(
    helperRunArgs({
      image: helperImage,
      mount,
      readOnly: true,
      purpose: "restore-check",
      command: ["ls", "-A", "/data"],
    }),
  );
  return r.stdout.split("\n").filter(Boolean);
}

const PG_USER_RELATIONS =
  "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' " +
  "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')";

/** What phase 1 found to restore: the data sets, and the dump with its Postgres. */
interface RestorePlan {
  readonly targets: readonly Target[];
  readonly dump?: DumpEntry;
  readonly pg?: ServiceSettings;
}

export async function runRestore(o: RestoreOptions): Promise<void> {
  const { settings, log } = o;
  assertLocal(settings, "restore");
  // What the machine lacks is said first: nothing below can run without an engine.
  await assertEngine();
  const dir = path.resolve(o.fromDir);
  const manifest = readManifest(dir);
  if (manifest.stack !== settings.stack || manifest.project !== settings.project) {
    throw new RefusedError(
      `backup ${dir} is of stack ${manifest.project}/${manifest.stack}, not ${settings.project}/${settings.stack}`,
    );
  }
  const entries = selectEntries(manifest, settings, o.only);
  if (entries.length === 0) throw new UsageError(`backup ${dir}: nothing selected to restore`);

  // ---- phase 1: check everything, touch nothing
  log(`restore of stack ${settings.stack} from ${dir} (backup completed ${manifest.completedAt})`);
  await verifyChecksums(dir, entries, log);
  const plan = await checkRestore(o, entries);
  // ---- phases 2 and 3, with the writers stopped
  await stageAndSwap(o, dir, plan);
  log(
    `restore complete: ${entries.map((e) => (e.kind === "pg_dump" ? DUMP_NAME : e.dataSet)).join(", ")}`,
  );
}

/** Phase 1: every problem of every target and of the dump, or the plan. Touches nothing. */
async function checkRestore(o: RestoreOptions, entries: readonly Entry[]): Promise<RestorePlan> {
  const containers = await allContainers();
  const problems: string[] = [];
  const targets: Target[] = [];
  for (const e of entries) {
    if (e.kind !== "archive") continue;
    const t = await checkTarget(o, e, containers, problems);
    if (t !== undefined) targets.push(t);
  }
  const dump = entries.find((e): e is DumpEntry => e.kind === "pg_dump");
  const pg = o.settings.services.find((s) => s.kind === "postgres");
  if (dump !== undefined) await checkDump(o, pg, problems);
  if (problems.length > 0) {
    throw new RefusedError(`nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return { targets, dump, pg };
}

/** One data set's target: its storage kind, its writers and its emptiness checked. */
async function checkTarget(
  o: RestoreOptions,
  e: ArchiveEntry,
  containers: readonly ContainerInfo[],
  problems: string[],
): Promise<Target | undefined> {
  const d = o.settings.dataSets.find((x) => x.key === e.dataSet);
  if (d === undefined) return undefined; // selectEntries refused already
  const mount: DataMount =
    d.backend === "bind" && d.hostPath !== undefined
      ? { type: "bind", source: d.hostPath }
      : { type: "volume", source: d.volumeName ?? "" };
  if (mount.type !== e.backend) {
    problems.push(
      `${e.dataSet}: the backup holds a ${e.backend} but the stack now uses ${mount.type} storage; ` +
        `restore the archive by hand (tar -x) or switch storageMode back`,
    );
    return undefined;
  }
  const exists =
    mount.type === "volume"
      ? await volumeExists(mount.source)
      : fs.existsSync(mount.source) && fs.statSync(mount.source).isDirectory();
  const users = containersUsing(containers, mount);
  const running = users.filter((c) => c.running);
  if (running.length > 0 && !o.stopWriters) {
    problems.push(
      `${e.dataSet}: ${describeMount(mount)} is in use by running container(s) ${running
        .map((c) => c.name)
        .join(", ")}; stop them first (pulumi destroy, or docker stop) or pass --stop-writers`,
    );
  }
  if (exists) {
    const found = await entriesIn(mount, o.helperImage);
    if (found.length > 0 && !o.force) {
      problems.push(
        `${e.dataSet}: ${describeMount(mount)} is not empty (${found.length} entries, e.g. ${found
          .slice(0, 3)
          .join(", ")}); pass --force to replace its contents`,
      );
    }
  }
  return { entry: e, mount, exists, users };
}

/** The dump goes into the running Postgres, and into an empty database unless --force. */
async function checkDump(
  o: RestoreOptions,
  pg: ServiceSettings | undefined,
  problems: string[],
): Promise<void> {
  const c = pg === undefined ? undefined : await inspectContainer(pg.containerName);
  if (pg === undefined || c === undefined || !c.running) {
    problems.push(
      `${DUMP_NAME}: the dump is restored into the running Postgres container ` +
        `${pg?.containerName ?? "(none defined)"}, which is not running; start the stack (pulumi up) first`,
    );
    return;
  }
  const { database } = o.settings.postgres;
  const n = Number(await psqlQuery(pg.containerName, o.settings.postgres, PG_USER_RELATIONS));
  if (n > 0 && !o.force) {
    problems.push(
      `${DUMP_NAME}: database ${database} already holds ${n} relation(s); pass --force to replace them ` +
        `(pg_restore --clean, in one transaction)`,
    );
  }
}

/** Phases 2 and 3 with every writer of a target stopped (and started again after). */
async function stageAndSwap(o: RestoreOptions, dir: string, plan: RestorePlan): Promise<void> {
  const staging = new Staging(o, dir, randomBytes(6).toString("hex"));
  const users = plan.targets.flatMap((t) => t.users);
  const writers = [...new Map(users.map((c) => [c.name, c])).values()];
  await withStopped(writers, o.stopTimeout, o.log, async () => {
    const undoStages = pushUndo("remove staged restore data", () => staging.abort());
    try {
      for (const t of plan.targets) {
        await staging.ensureTarget(t);
        await staging.extract(t);
      }
      if (plan.dump !== undefined && plan.pg !== undefined) {
        await staging.restoreDump(plan.dump, plan.pg);
      }
    } catch (e) {
      undoStages();
      await staging.abort();
      throw e;
    }
    undoStages();
    // Swap: renames only, never cut half-way by a signal.
    await uninterruptible(() => staging.swapAll());
  });
}
