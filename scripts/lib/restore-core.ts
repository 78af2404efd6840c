import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Settings } from "../../components/config/settings";
import { formatBytes, Hasher, hashFile, Progress } from "./archive";
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
 */

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

export const DUMP_NAME = "pg_dump";

/** Shell run by the helper: extract stdin into the stage directory `$1`. */
export const STAGE_SCRIPT = [
  "set -eu",
  'mkdir "/data/$1"',
  'if ! tar -x -f - -C "/data/$1" --numeric-owner; then rm -rf "/data/$1"; exit 1; fi',
].join("\n");

/**
 * Shell run by the helper: move the current top-level entries into `$2`, remember
 * the root's owner and mode, move the staged entries of `$1` up, and give the root
 * the owner and mode of the archived root.
 */
export const SWAP_SCRIPT = [
  "set -eu",
  "cd /data",
  'mkdir "$2"',
  'stat -c "%u:%g %a" . > "$2/.panopticon-root"',
  "for f in ./* ./.[!.]* ./..?*; do",
  '  [ -e "$f" ] || [ -L "$f" ] || continue',
  '  case "$f" in "./$1"|"./$2") continue ;; esac',
  '  mv "$f" "$2/"',
  "done",
  'for f in "./$1"/* "./$1"/.[!.]* "./$1"/..?*; do',
  '  [ -e "$f" ] || [ -L "$f" ] || continue',
  '  mv "$f" ./',
  "done",
  'chown "$(stat -c %u:%g "$1")" . && chmod "$(stat -c %a "$1")" .',
  'rmdir "$1"',
].join("\n");

/** chown -h of "$3 $4", "$5 $6", ... (owner, ./path) inside the stage directory `$1`. */
export const CHOWN_LINKS_SCRIPT = [
  "set -eu",
  'cd "/data/$1"',
  "shift 2",
  'while [ "$#" -ge 2 ]; do chown -h "$1" "$2"; shift 2; done',
].join("\n");

/** Undo of SWAP_SCRIPT, used when a later data set fails to swap. */
export const UNSWAP_SCRIPT = [
  "set -eu",
  "cd /data",
  '[ -d "$2" ] || exit 0',
  "for f in ./* ./.[!.]* ./..?*; do",
  '  [ -e "$f" ] || [ -L "$f" ] || continue',
  '  [ "$f" = "./$2" ] || rm -rf "$f"',
  "done",
  'read -r owner mode < "$2/.panopticon-root"',
  'rm -f "$2/.panopticon-root"',
  'for f in "./$2"/* "./$2"/.[!.]* "./$2"/..?*; do',
  '  [ -e "$f" ] || [ -L "$f" ] || continue',
  '  mv "$f" ./',
  "done",
  'chown "$owner" . && chmod "$mode" .',
  'rmdir "$2"',
].join("\n");

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

interface Target {
  readonly entry: ArchiveEntry;
  readonly mount: DataMount;
  readonly exists: boolean;
  readonly users: readonly ContainerInfo[];
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
  const containers = await allContainers();
  const problems: string[] = [];
  const targets: Target[] = [];
  for (const e of entries) {
    if (e.kind !== "archive") continue;
    const d = settings.dataSets.find((x) => x.key === e.dataSet);
    if (d === undefined) continue; // selectEntries refused already
    const mount: DataMount =
      d.backend === "bind" && d.hostPath !== undefined
        ? { type: "bind", source: d.hostPath }
        : { type: "volume", source: d.volumeName ?? "" };
    if (mount.type !== e.backend) {
      problems.push(
        `${e.dataSet}: the backup holds a ${e.backend} but the stack now uses ${mount.type} storage; ` +
          `restore the archive by hand (tar -x) or switch storageMode back`,
      );
      continue;
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
    targets.push({ entry: e, mount, exists, users });
  }
  const dump = entries.find((e): e is DumpEntry => e.kind === "pg_dump");
  const pg = settings.services.find((s) => s.kind === "postgres");
  if (dump !== undefined) {
    const c = pg === undefined ? undefined : await inspectContainer(pg.containerName);
    if (pg === undefined || c === undefined || !c.running) {
      problems.push(
        `${DUMP_NAME}: the dump is restored into the running Postgres container ` +
          `${pg?.containerName ?? "(none defined)"}, which is not running; start the stack (pulumi up) first`,
      );
    } else {
      const { database } = settings.postgres;
      const n = Number(await psqlQuery(pg.containerName, settings.postgres, PG_USER_RELATIONS));
      if (n > 0 && !o.force) {
        problems.push(
          `${DUMP_NAME}: database ${database} already holds ${n} relation(s); pass --force to replace them ` +
            `(pg_restore --clean, in one transaction)`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new RefusedError(`nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }

  // ---- phases 2 and 3, with the writers stopped
  const id = randomBytes(6).toString("hex");
  const stage = `.panopticon-restore-${id}`;
  const old = `.panopticon-old-${id}`;
  const writers = [...new Map(targets.flatMap((t) => t.users).map((c) => [c.name, c])).values()];
  await withStopped(writers, o.stopTimeout, log, async () => {
    const createdVolumes: string[] = [];
    const createdDirs: string[] = [];
    const staged: Target[] = [];
    const helper = (t: Target, script: string, purpose: string, extra: readonly string[] = []) =>
      docker(
        helperRunArgs({
          image: o.helperImage,
          mount: t.mount,
          readOnly: false,
          purpose,
          command: ["sh", "-c", script, "sh", stage, old, ...extra],
        }),
      );
    const abortStages = async () => {
      for (const t of staged.splice(0)) {
        await helper(t, 'rm -rf "/data/$1"', "restore-abort").catch(() => undefined);
      }
      for (const v of createdVolumes.splice(0)) {
        await docker(["volume", "rm", v], { allowFail: true });
      }
      for (const d of createdDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    };
    const undoStages = pushUndo("remove staged restore data", abortStages);
    try {
      for (const t of targets) {
        if (!t.exists) {
          if (t.mount.type === "volume") {
            await docker(["volume", "create", t.mount.source]);
            createdVolumes.push(t.mount.source);
          } else {
            fs.mkdirSync(t.mount.source, { recursive: true, mode: 0o700 });
            createdDirs.push(t.mount.source);
          }
        }
        log(
          `${t.entry.dataSet}: extracting ${t.entry.file} into ${describeMount(t.mount)} (staged)`,
        );
        const hasher = new Hasher();
        const progress = new Progress(t.entry.dataSet);
        staged.push(t);
        await docker(
          helperRunArgs({
            image: o.helperImage,
            mount: t.mount,
            readOnly: false,
            interactive: true,
            purpose: "restore",
            command: ["sh", "-c", STAGE_SCRIPT, "sh", stage],
          }),
          {
            input: fs.createReadStream(path.join(dir, t.entry.file)).pipe(hasher).pipe(progress),
          },
        );
        for (let i = 0; i < (t.entry.symlinkOwners ?? []).length; i += 200) {
          // busybox tar leaves extracted links owned by root; put their owners back.
          const batch = (t.entry.symlinkOwners ?? []).slice(i, i + 200).flat();
          await helper(t, CHOWN_LINKS_SCRIPT, "restore-links", batch);
        }
        if (hasher.hex() !== t.entry.sha256) {
          throw new BackupInvalidError(dir, `${t.entry.file} changed while it was being restored`);
        }
        log(`  ${formatBytes(progress.bytes)} in ${progress.seconds().toFixed(1)} s`);
      }
      if (dump !== undefined && pg !== undefined) {
        const { database, user } = settings.postgres;
        log(`${DUMP_NAME}: pg_restore into ${database} in ${pg.containerName} (one transaction)`);
        const progress = new Progress(DUMP_NAME);
        await docker(
          [
            "exec",
            "-i",
            pg.containerName,
            "pg_restore",
            "-U",
            user,
            "-d",
            database,
            "--single-transaction",
            "--exit-on-error",
            ...(o.force ? ["--clean", "--if-exists"] : []),
          ],
          { input: fs.createReadStream(path.join(dir, dump.file)).pipe(progress) },
        );
        log(`  ${formatBytes(progress.bytes)} in ${progress.seconds().toFixed(1)} s`);
      }
    } catch (e) {
      undoStages();
      await abortStages();
      throw e;
    }
    undoStages();

    // Swap: renames only, never cut half-way by a signal. If one fails, swap the others back.
    await uninterruptible(async () => {
      const swapped: Target[] = [];
      try {
        for (const t of staged) {
          await helper(t, SWAP_SCRIPT, "restore-swap");
          swapped.push(t);
        }
      } catch (e) {
        for (const t of swapped) {
          await helper(t, UNSWAP_SCRIPT, "restore-unswap").catch(() => undefined);
        }
        for (const t of staged) {
          await helper(t, 'rm -rf "/data/$1"', "restore-abort").catch(() => undefined);
        }
        throw e;
      }
      for (const t of staged) {
        await helper(t, 'rm -rf "/data/$2"', "restore-cleanup");
        log(`${t.entry.dataSet}: restored into ${describeMount(t.mount)}`);
      }
    });
  });
  log(
    `restore complete: ${entries.map((e) => (e.kind === "pg_dump" ? DUMP_NAME : e.dataSet)).join(", ")}`,
  );
}
