import * as fs from "fs";
import { Settings } from "../../components/config/settings";
import { formatBytes } from "./archive";
import { runBackup } from "./backup-core";
import {
  allContainers,
  assertEngine,
  ContainerInfo,
  containersUsing,
  DataMount,
  docker,
  helperRunArgs,
  stopContainer,
  volumeExists,
} from "./docker";
import { assertLocal, describeMount, isProdStackName, mountOf, RefusedError } from "./stack";

/*
 * The only way to delete a local stack's retained data. Every check runs before
 * anything is deleted; the backup (unless --no-backup) is complete before the
 * first deletion.
 */

export interface PurgeOptions {
  readonly settings: Settings;
  /** The stack name typed again. */
  readonly confirm?: string;
  /** Take a backup first (default true). */
  readonly backup: boolean;
  readonly outDir: string;
  readonly helperImage: string;
  /** Stop and remove containers that still use the data. */
  readonly force: boolean;
  readonly stopTimeout: number;
  readonly log: (line: string) => void;
}

/** The refusals that need no engine: environment, stack name, confirmation. Pure. */
export function checkPurgeAllowed(settings: Settings, confirm: string | undefined): void {
  assertLocal(settings, "purge");
  if (isProdStackName(settings.stack)) {
    throw new RefusedError(
      `stack "${settings.stack}" is named like a production stack: purge never deletes its data. Nothing was touched.`,
    );
  }
  if (confirm === undefined || confirm === "") {
    throw new RefusedError(
      `--confirm is required: type the stack name again (--confirm ${settings.stack}) to delete its data. Nothing was touched.`,
    );
  }
  if (confirm !== settings.stack) {
    throw new RefusedError(
      `--confirm = ${JSON.stringify(confirm)}: expected the stack name ${JSON.stringify(settings.stack)} typed again. Nothing was touched.`,
    );
  }
}

/** A data set whose volume or directory exists. */
interface Present {
  readonly key: string;
  readonly mount: DataMount;
}

export async function runPurge(
  o: PurgeOptions,
): Promise<{ deleted: string[]; backupDir?: string }> {
  const { settings, log } = o;
  checkPurgeAllowed(settings, o.confirm);
  await assertEngine();
  const present = await presentData(settings);
  if (present.length === 0) {
    log(
      `purge: stack ${settings.stack} has no retained data (no volume or directory exists); nothing to do`,
    );
    return { deleted: [] };
  }
  const users = await usersOf(present, o);
  log(`purge of stack ${settings.stack}: ${present.map((p) => describeMount(p.mount)).join(", ")}`);
  const backupDir = await safetyBackup(o);
  await removeContainers(users, o);
  const deleted = await deleteData(present, o, backupDir);
  const total = backupDir !== undefined ? sizeOf(backupDir) : undefined;
  log(
    `purge complete: deleted ${deleted.join(", ")}` +
      (backupDir !== undefined ? `; backup (${formatBytes(total ?? 0)}) in ${backupDir}` : ""),
  );
  return { deleted, backupDir };
}

/** The stack's data sets whose volume or directory exists. */
async function presentData(settings: Settings): Promise<Present[]> {
  const present: Present[] = [];
  for (const d of settings.dataSets) {
    const mount = mountOf(d);
    const exists =
      mount.type === "volume"
        ? await volumeExists(mount.source)
        : fs.existsSync(mount.source) && fs.statSync(mount.source).isDirectory();
    if (exists) present.push({ key: d.key, mount });
  }
  return present;
}

/** The containers that use the data; a refusal unless --force. */
async function usersOf(present: readonly Present[], o: PurgeOptions): Promise<ContainerInfo[]> {
  const containers = await allContainers();
  const users = new Map<string, ContainerInfo>();
  for (const p of present)
    for (const c of containersUsing(containers, p.mount)) users.set(c.name, c);
  if (users.size > 0 && !o.force) {
    throw new RefusedError(
      `containers still use the data: ${[...users.values()]
        .map((c) => `${c.name} (${c.running ? "running" : "stopped"})`)
        .join(
          ", ",
        )}. Run \`pulumi destroy --stack ${o.settings.stack}\` first (it keeps the data), ` +
        `or pass --force to stop and remove these containers. Nothing was touched.`,
    );
  }
  return [...users.values()];
}

/** The backup taken before anything is deleted (unless --no-backup): its directory. */
async function safetyBackup(o: PurgeOptions): Promise<string | undefined> {
  if (!o.backup) {
    o.log("purge: --no-backup: deleting without taking a backup first");
    return undefined;
  }
  // Writers are stopped for the safety copy: the raw files are what is about to go.
  const b = await runBackup({
    settings: o.settings,
    outDir: o.outDir,
    helperImage: o.helperImage,
    stopWriters: true,
    stopTimeout: o.stopTimeout,
    log: o.log,
  });
  o.log(`purge: backup taken in ${b.dir}`);
  return b.dir;
}

/** Stops (gracefully) and removes the containers that use the data (--force). */
async function removeContainers(users: readonly ContainerInfo[], o: PurgeOptions): Promise<void> {
  for (const c of users) {
    if (c.running) {
      o.log(`  stopping ${c.name} (graceful, up to ${o.stopTimeout} s)`);
      await stopContainer(c.name, o.stopTimeout);
    }
    await docker(["rm", c.name]);
    o.log(`  removed container ${c.name}`);
  }
}

/** Deletes each volume (a directory: its contents); a failure says what is gone already. */
async function deleteData(
  present: readonly Present[],
  o: PurgeOptions,
  backupDir: string | undefined,
): Promise<string[]> {
  const deleted: string[] = [];
  try {
    for (const p of present) {
      await deleteOne(p.mount, o.helperImage);
      deleted.push(describeMount(p.mount));
      o.log(
        `  deleted ${p.key}: ${describeMount(p.mount)}${p.mount.type === "bind" ? " (contents)" : ""}`,
      );
    }
  } catch (e) {
    (e as Error).message +=
      `; deleted so far: ${deleted.join(", ") || "nothing"}` +
      (backupDir !== undefined ? `; the backup in ${backupDir} holds everything` : "");
    throw e;
  }
  return deleted;
}

/** A volume is removed; a directory is emptied, keeping the directory itself. */
async function deleteOne(mount: DataMount, helperImage: string): Promise<void> {
  if (mount.type === "volume") {
    await docker(["volume", "rm", mount.source]);
    return;
  }
  // Through a container: the files belong to the services' uids, not to this user.
  const command = ["find", "/data", "-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf"];
  await docker(
    helperRunArgs({
      image: helperImage,
      mount,
      readOnly: false,
      purpose: "purge",
      command: [...command, "{}", "+"],
    }),
  );
}

function sizeOf(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(`${dir}/${f}`).size, 0);
}
