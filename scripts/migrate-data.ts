import { Command } from "commander";
import * as path from "path";
import { log, run } from "./lib/cli";
import { awsRunbook } from "./lib/migrate/aws-runbook";
import { runMigrate } from "./lib/migrate/run";
import { checkStackName, loadStack } from "./lib/stack";

/*
 * npm run migrate-data -- --stack dev [--dir DIR] [--report FILE] [--backup-dir DIR]
 * npm run migrate-data -- --stack prod --print-aws-runbook
 * Carries a compose-era deployment's stores into Panopticon 0.1's tables: backup
 * first, one transaction per source, idempotent by id, originals only read.
 *   exit 0  every source migrated and verified
 *   1       a problem (damaged or failed source, unusable documents, failed check,
 *           failed backup, Postgres not running)
 *   2       bad arguments or stack file: nothing changed
 *   3       environment missing (no Docker engine; an AWS stack given to the local tool)
 */

const program = new Command("migrate-data")
  .description(
    "Copy compose-era stores (tables, ChromaDB collections) into Panopticon 0.1's tables",
  )
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option(
    "--report <file>",
    "report file (default: <dir>/backups/<stack>-<UTC time>-migrate-report.json)",
  )
  .option(
    "--backup-dir <path>",
    "backup directory (default: <dir>/backups/<stack>-<UTC time>-before-migrate)",
  )
  .option(
    "--helper-image <image>",
    "image with sh and cat used to read data sets (default: the stack's initImage)",
  )
  .option(
    "--backup-raw",
    "stop Postgres for a file-level backup of its data directory instead of pg_dump (needed when a table is damaged)",
  )
  .option(
    "--print-aws-runbook",
    "print the steps for an AWS stack (Docker host over SSM, ECS) and exit",
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

run("migrate-data", async () => {
  program.parse();
  const opts = program.opts<{
    stack: string;
    dir: string;
    report?: string;
    backupDir?: string;
    helperImage?: string;
    printAwsRunbook?: boolean;
    backupRaw?: boolean;
  }>();
  const dir = path.resolve(opts.dir);
  const settings = loadStack(checkStackName(opts.stack), dir);
  if (opts.printAwsRunbook) {
    process.stdout.write(awsRunbook(settings));
    return;
  }
  const r = await runMigrate({
    settings,
    projectDir: dir,
    helperImage: opts.helperImage ?? settings.initImage,
    reportFile: opts.report === undefined ? undefined : path.resolve(opts.report),
    backupDir: opts.backupDir === undefined ? undefined : path.resolve(opts.backupDir),
    backupRaw: opts.backupRaw === true,
    log,
  });
  for (const n of r.report.notes) process.stdout.write(`note    ${n}\n`);
  for (const p of r.report.problems) process.stdout.write(`PROBLEM ${p}\n`);
  const n = r.report.sources.length;
  process.stdout.write(
    r.exitCode === 0
      ? `migrate-data: stack ${settings.stack}: ${n} source(s) migrated and verified; report ${r.reportFile}\n`
      : `migrate-data: stack ${settings.stack}: ${r.report.problems.length} problem(s); report ${r.reportFile}\n`,
  );
  if (r.exitCode !== 0) process.exit(r.exitCode);
});
