import * as path from "path";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { runRestore } from "./lib/restore-core";
import { checkStackName, loadStack, parseSeconds, UsageError } from "./lib/stack";

/*
 * npm run restore -- --stack dev --from DIR [--force] [--stop-writers] [--only judge,pg_dump]
 * Verifies every checksum first, refuses to replace non-empty data without --force,
 * and stages the data before swapping it in, so a failure leaves the data as it was.
 */

const program = toolCommand(
  "restore",
  "Restore a backup made by `npm run backup` into a local Panopticon stack",
)
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .requiredOption("--from <path>", "backup directory (holding manifest.json)")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option("--force", "replace data sets or a database that are not empty")
  .option(
    "--stop-writers",
    "stop running containers that use the data (graceful) and start them again",
  )
  .option("--only <names>", "comma-separated data-set keys and/or pg_dump (default: everything)")
  .option(
    "--helper-image <image>",
    "image with tar used to write the data (default: the stack's initImage)",
  )
  .option(
    "--stop-timeout <seconds>",
    "graceful stop timeout (default: the stack's stopGraceSeconds)",
  );

run("restore", async () => {
  const opts = parseOptions<{
    stack: string;
    from: string;
    dir: string;
    force?: boolean;
    stopWriters?: boolean;
    only?: string;
    helperImage?: string;
    stopTimeout?: string;
  }>(program);
  const stack = checkStackName(opts.stack);
  if (opts.from.trim() === "") throw new UsageError('--from = "": expected a backup directory');
  const dir = path.resolve(opts.dir);
  const settings = loadStack(stack, dir);
  await runRestore({
    settings,
    fromDir: path.resolve(opts.from),
    helperImage: opts.helperImage ?? settings.initImage,
    force: opts.force === true,
    stopWriters: opts.stopWriters === true,
    stopTimeout: parseSeconds("--stop-timeout", opts.stopTimeout) ?? settings.stopGraceSeconds,
    only: opts.only,
    log,
  });
});
