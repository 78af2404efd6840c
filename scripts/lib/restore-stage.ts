import * as fs from "fs";
import * as path from "path";
import { ServiceSettings, Settings } from "../../components/config/settings";
import { formatBytes, Hasher, Progress } from "./archive";
import { ContainerInfo, DataMount, docker, helperRunArgs } from "./docker";
import { ArchiveEntry, BackupInvalidError, DumpEntry } from "./manifest";
import { describeMount } from "./stack";

/*
 * Phases 2 and 3 of a restore (restore-core.ts checked everything first): stage each
 * archive in a hidden directory inside its own volume, restore the dump in one
 * transaction, then swap every data set's staged contents in. A failure before the
 * swap removes the stages (and what was created for them); a failed swap swaps the
 * data sets already done back.
 */

/** What staging needs of restore-core's RestoreOptions. */
export interface StagingOptions {
  readonly settings: Pick<Settings, "postgres">;
  readonly helperImage: string;
  /** pg_restore --clean: replace what the database holds. */
  readonly force: boolean;
  readonly log: (line: string) => void;
}

/** A data set to restore, as phase 1 found it. */
export interface Target {
  readonly entry: ArchiveEntry;
  readonly mount: DataMount;
  readonly exists: boolean;
  readonly users: readonly ContainerInfo[];
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

/** One restore's staging: the hidden directories, and what was created for them. */
export class Staging {
  private readonly createdVolumes: string[] = [];
  private readonly createdDirs: string[] = [];
  private readonly staged: Target[] = [];
  /** Hidden directories inside each data set: the staged copy, and the old one moved aside. */
  private readonly stage: string;
  private readonly old: string;

  constructor(
    private readonly o: StagingOptions,
    private readonly dir: string,
    id: string,
  ) {
    this.stage = `.panopticon-restore-${id}`;
    this.old = `.panopticon-old-${id}`;
  }

  /** Runs `script` in the helper on the target's data (`$1` stage, `$2` old, then `extra`). */
  private helper(t: Target, script: string, purpose: string, extra: readonly string[] = []) {
    return docker(
      helperRunArgs({
        image: this.o.helperImage,
        mount: t.mount,
        readOnly: false,
        purpose,
        command: ["sh", "-c", script, "sh", this.stage, this.old, ...extra],
      }),
    );
  }

  /** Removes every stage, and the volumes and directories created for them. */
  async abort(): Promise<void> {
    for (const t of this.staged.splice(0)) {
      await this.helper(t, 'rm -rf "/data/$1"', "restore-abort").catch(() => undefined);
    }
    for (const v of this.createdVolumes.splice(0)) {
      await docker(["volume", "rm", v], { allowFail: true });
    }
    for (const d of this.createdDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }

  /** Creates a missing volume or directory (and remembers it, for abort). */
  async ensureTarget(t: Target): Promise<void> {
    if (t.exists) return;
    if (t.mount.type === "volume") {
      await docker(["volume", "create", t.mount.source]);
      this.createdVolumes.push(t.mount.source);
    } else {
      fs.mkdirSync(t.mount.source, { recursive: true, mode: 0o700 });
      this.createdDirs.push(t.mount.source);
    }
  }

  /** Extracts the target's archive into its stage, checking the bytes read against the manifest. */
  async extract(t: Target): Promise<void> {
    this.o.log(
      `${t.entry.dataSet}: extracting ${t.entry.file} into ${describeMount(t.mount)} (staged)`,
    );
    const hasher = new Hasher();
    const progress = new Progress(t.entry.dataSet);
    this.staged.push(t);
    await docker(
      helperRunArgs({
        image: this.o.helperImage,
        mount: t.mount,
        readOnly: false,
        interactive: true,
        purpose: "restore",
        command: ["sh", "-c", STAGE_SCRIPT, "sh", this.stage],
      }),
      {
        input: fs.createReadStream(path.join(this.dir, t.entry.file)).pipe(hasher).pipe(progress),
      },
    );
    for (let i = 0; i < (t.entry.symlinkOwners ?? []).length; i += 200) {
      // busybox tar leaves extracted links owned by root; put their owners back.
      const batch = (t.entry.symlinkOwners ?? []).slice(i, i + 200).flat();
      await this.helper(t, CHOWN_LINKS_SCRIPT, "restore-links", batch);
    }
    if (hasher.hex() !== t.entry.sha256) {
      throw new BackupInvalidError(this.dir, `${t.entry.file} changed while it was being restored`);
    }
    this.o.log(`  ${formatBytes(progress.bytes)} in ${progress.seconds().toFixed(1)} s`);
  }

  /** pg_restore of the dump into the running Postgres, in one transaction. */
  async restoreDump(dump: DumpEntry, pg: ServiceSettings): Promise<void> {
    const { database, user } = this.o.settings.postgres;
    this.o.log(
      `${DUMP_NAME}: pg_restore into ${database} in ${pg.containerName} (one transaction)`,
    );
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
        ...(this.o.force ? ["--clean", "--if-exists"] : []),
      ],
      { input: fs.createReadStream(path.join(this.dir, dump.file)).pipe(progress) },
    );
    this.o.log(`  ${formatBytes(progress.bytes)} in ${progress.seconds().toFixed(1)} s`);
  }

  /** Swaps every stage in (renames only); if one fails, swaps the others back. */
  async swapAll(): Promise<void> {
    const swapped: Target[] = [];
    try {
      for (const t of this.staged) {
        await this.helper(t, SWAP_SCRIPT, "restore-swap");
        swapped.push(t);
      }
    } catch (e) {
      for (const t of swapped) {
        await this.helper(t, UNSWAP_SCRIPT, "restore-unswap").catch(() => undefined);
      }
      for (const t of this.staged) {
        await this.helper(t, 'rm -rf "/data/$1"', "restore-abort").catch(() => undefined);
      }
      throw e;
    }
    for (const t of this.staged) {
      await this.helper(t, 'rm -rf "/data/$2"', "restore-cleanup");
      this.o.log(`${t.entry.dataSet}: restored into ${describeMount(t.mount)}`);
    }
  }
}
