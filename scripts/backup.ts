import * as path from "path";
import { defaultBackupDir, runBackup } from "./lib/backup-core";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { checkStackName, loadStack, parseSeconds, UsageError } from "./lib/stack";

/*
 * npm run backup -- --stack dev [--out DIR] [--stop-writers]
 * One archive per data set of a local stack, a pg_dump when Postgres runs, and a
 * manifest with sizes and sha256 written last. Works without the Pulumi CLI.
 */

const program = toolCommand(
  "backup",
  "Back up the data of a local Panopticon stack (volumes or bind directories, pg_dump)",
)
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option("--out <path>", "backup directory to create (default: <dir>/backups/<stack>-<UTC time>)")
  .option(
    "--helper-image <image>",
    "image with tar used to read the data (default: the stack's initImage)",
  )
  .option(
    "--stop-writers",
    "when Postgres runs, also stop it (after pg_dump) to archive its volume; default: dump only",
  )
  .option(
    "--stop-timeout <seconds>",
    "graceful stop timeout (default: the stack's stopGraceSeconds)",
  )
  .option("--jobs <n>", "data sets archived at once (default 2; 1 for a slow disk)");

run("backup", async () => {
  const opts = parseOptions<{
    stack: string;
    dir: string;
    out?: string;
    helperImage?: string;
    stopWriters?: boolean;
    stopTimeout?: string;
    jobs?: string;
  }>(program);
  if (opts.jobs !== undefined && !/^([1-9]|1[0-6])$/.test(opts.jobs)) {
    throw new UsageError(
      `--jobs = ${JSON.stringify(opts.jobs)}: expected a whole number from 1 to 16`,
    );
  }
  const stack = checkStackName(opts.stack);
  const dir = path.resolve(opts.dir);
  const settings = loadStack(stack, dir);
  const { dir: written } = await runBackup({
    settings,
    outDir:
      opts.out !== undefined ? path.resolve(opts.out) : defaultBackupDir(dir, stack, new Date()),
    helperImage: opts.helperImage ?? settings.initImage,
    stopWriters: opts.stopWriters === true,
    stopTimeout: parseSeconds("--stop-timeout", opts.stopTimeout) ?? settings.stopGraceSeconds,
    log,
    jobs: opts.jobs === undefined ? undefined : Number(opts.jobs),
  });
  // The directory on stdout, for scripts; everything else went to stderr.
  process.stdout.write(`${written}\n`);
});
