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

export async function runPurge(
  o: PurgeOptions,
): Promise<{ deleted: string[]; backupDir?: string }> {
  const { settings, log } = o;
  checkPurgeAllowed(settings, o.confirm);
  await assertEngine();

  const present: Array<{ key: string; mount: DataMount }> = [];
  for (const d of settings.dataSets) {
    const mount = mountOf(d);
    const exists =
      mount.type === "volume"
        ? await volumeExists(mount.source)
        : fs.existsSync(mount.source) && fs.statSync(mount.source).isDirectory();
    if (exists) present.push({ key: d.key, mount });
  }
  if (present.length === 0) {
    log(
      `purge: stack ${settings.stack} has no retained data (no volume or directory exists); nothing to do`,
    );
    return { deleted: [] };
  }

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
        )}. Run \`pulumi destroy --stack ${settings.stack}\` first (it keeps the data), ` +
        `or pass --force to stop and remove these containers. Nothing was touched.`,
    );
  }

  log(`purge of stack ${settings.stack}: ${present.map((p) => describeMount(p.mount)).join(", ")}`);
  let backupDir: string | undefined;
  if (o.backup) {
    // Writers are stopped for the safety copy: the raw files are what is about to go.
    const b = await runBackup({
      settings,
      outDir: o.outDir,
      helperImage: o.helperImage,
      stopWriters: true,
      stopTimeout: o.stopTimeout,
      log,
    });
    backupDir = b.dir;
    log(`purge: backup taken in ${b.dir}`);
  } else {
    log("purge: --no-backup: deleting without taking a backup first");
  }

  for (const c of users.values()) {
    if (c.running) {
      log(`  stopping ${c.name} (graceful, up to ${o.stopTimeout} s)`);
      await stopContainer(c.name, o.stopTimeout);
    }
    await docker(["rm", c.name]);
    log(`  removed container ${c.name}`);
  }

  const deleted: string[] = [];
  try {
    for (const p of present) {
      if (p.mount.type === "volume") {
        await docker(["volume", "rm", p.mount.source]);
      } else {
        // Through a container: the files belong to the services' uids, not to this user.
        await docker(
          helperRunArgs({
            image: o.helperImage,
            mount: p.mount,
            readOnly: false,
            purpose: "purge",
            command: [
              "find",
              "/data",
              "-mindepth",
              "1",
              "-maxdepth",
              "1",
              "-exec",
              "rm",
              "-rf",
              "{}",
              "+",
            ],
          }),
        );
      }
      deleted.push(describeMount(p.mount));
      log(
        `  deleted ${p.key}: ${describeMount(p.mount)}${p.mount.type === "bind" ? " (contents)" : ""}`,
      );
    }
  } catch (e) {
    (e as Error).message +=
      `; deleted so far: ${deleted.join(", ") || "nothing"}` +
      (backupDir !== undefined ? `; the backup in ${backupDir} holds everything` : "");
    throw e;
  }
  const total = backupDir !== undefined ? sizeOf(backupDir) : undefined;
  log(
    `purge complete: deleted ${deleted.join(", ")}` +
      (backupDir !== undefined ? `; backup (${formatBytes(total ?? 0)}) in ${backupDir}` : ""),
  );
  return { deleted, backupDir };
}

function sizeOf(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(`${dir}/${f}`).size, 0);
}
