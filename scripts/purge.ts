import * as path from "path";
import { defaultBackupDir } from "./lib/backup-core";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { runPurge } from "./lib/purge-core";
import {
  checkStackName,
  isProdStackName,
  loadStack,
  parseSeconds,
  RefusedError,
} from "./lib/stack";

/*
 * npm run purge -- --stack dev --confirm dev [--no-backup] [--force]
 * Deletes a local stack's retained data volumes or bind directories' contents,
 * after a backup. Refuses on AWS and prod stacks, without the stack name typed
 * again, and while containers still use the data (unless --force).
 */

const program = toolCommand(
  "purge",
  "Delete the retained data of a local Panopticon stack (after a backup)",
)
  .requiredOption("--stack <name>", "stack whose data is deleted")
  .option("--confirm <name>", "the stack name typed again")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option("--no-backup", "do not take a backup first")
  .option(
    "--out <path>",
    "backup directory (default: <dir>/backups/<stack>-<UTC time>-before-purge)",
  )
  .option("--force", "stop and remove containers that still use the data")
  .option("--helper-image <image>", "image with tar (default: the stack's initImage)")
  .option(
    "--stop-timeout <seconds>",
    "graceful stop timeout (default: the stack's stopGraceSeconds)",
  );

run("purge", async () => {
  const opts = parseOptions<{
    stack: string;
    confirm?: string;
    dir: string;
    backup: boolean;
    out?: string;
    force?: boolean;
    helperImage?: string;
    stopTimeout?: string;
  }>(program);
  const stack = checkStackName(opts.stack);
  // Before reading the stack file: no config can make a prod-named stack purgeable.
  if (isProdStackName(stack)) {
    throw new RefusedError(
      `stack "${stack}" is named like a production stack: purge never deletes its data. Nothing was touched.`,
    );
  }
  const dir = path.resolve(opts.dir);
  const settings = loadStack(stack, dir);
  await runPurge({
    settings,
    confirm: opts.confirm,
    backup: opts.backup,
    outDir:
      opts.out !== undefined
        ? path.resolve(opts.out)
        : defaultBackupDir(dir, stack, new Date(), "-before-purge"),
    helperImage: opts.helperImage ?? settings.initImage,
    force: opts.force === true,
    stopTimeout: parseSeconds("--stop-timeout", opts.stopTimeout) ?? settings.stopGraceSeconds,
    log,
  });
});
