import { Settings } from "../components/config/settings";
import * as path from "path";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import {
  awsCliBackup,
  databaseUrl,
  DATABASE_URL_ENV,
  DEFAULT_PSQL_IMAGE,
  dockerHostOf,
} from "./lib/migrate/aws";
import { awsRunbook, migrationTaskOutputs } from "./lib/migrate/aws-runbook";
import { runInTask } from "./lib/migrate/in-task";
import { Report } from "./lib/migrate/report";
import { UsageError } from "./lib/exit-codes";
import { MigrateAws, runMigrate } from "./lib/migrate/run";
import { checkStackName, loadStack } from "./lib/stack";

/*
 * npm run migrate-data -- --stack dev [--dir DIR] [--report FILE] [--backup-dir DIR]
 * npm run migrate-data -- --stack prod [--psql-image IMG] [--psql-network NET] [--ebs-volume-id VOL]
 * npm run migrate-data -- --stack prod --print-aws-runbook
 * npm run migrate-data -- --stack prod-ecs     (prints the one-off task's runbook)
 * node /app/migrate-data.js --in-task           (inside that task)
 * Carries a compose-era deployment's stores into Panopticon 0.1's tables: backup
 * first, one transaction per source, idempotent by id, originals only read.
 * An AWS stack on the Docker host: the host's engine (panopticon:aws.dockerHost, else
 * DOCKER_HOST), RDS by the URL in PANOPTICON_DATABASE_URL, RDS + EBS snapshots first.
 *   exit 0  every source migrated and verified
 *   1       a problem (damaged or failed source, unusable documents, failed check,
 *           failed backup or snapshot, Postgres not running or not reachable)
 *   2       bad arguments or stack file, PANOPTICON_DATABASE_URL missing: nothing changed
 *   3       environment missing (no Docker engine; in the task, a data set not mounted)
 */

const program = toolCommand(
  "migrate-data",
  "Copy compose-era stores (tables, ChromaDB collections) into Panopticon 0.1's tables",
)
  .option("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
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
    "--psql-image <image>",
    `AWS stacks: image of the psql helper container that reaches RDS (default: ${DEFAULT_PSQL_IMAGE}, the ECS pgvector init container's)`,
  )
  .option(
    "--psql-network <network>",
    "AWS stacks: Docker network the psql helper joins (default: the engine's default bridge)",
  )
  .option(
    "--ebs-volume-id <id>",
    "AWS stacks: the host's EBS data disk to snapshot (default: aws.adopt.ebsVolumeId, else the attached volume tagged panopticon-<stack>-data)",
  )
  .option(
    "--in-task",
    "inside the ECS one-off migration task: data sets under /migrate, RDS from DATABASE_URL (no --stack)",
  )
  .option(
    "--print-aws-runbook",
    "print the steps for an AWS stack (Docker host over SSM, ECS) and exit",
  );

interface Options {
  stack?: string;
  inTask?: boolean;
  dir: string;
  report?: string;
  backupDir?: string;
  helperImage?: string;
  printAwsRunbook?: boolean;
  backupRaw?: boolean;
  psqlImage?: string;
  psqlNetwork?: string;
  ebsVolumeId?: string;
}

run("migrate-data", async () => {
  const opts = parseOptions<Options>(program);
  if (opts.inTask) return inTask(opts);
  if (opts.stack === undefined)
    throw new UsageError("required option '--stack <name>' not specified");
  const dir = path.resolve(opts.dir);
  const settings = loadStack(checkStackName(opts.stack), dir);
  if (opts.printAwsRunbook) {
    process.stdout.write(awsRunbook(settings));
    return;
  }
  if (settings.target.kind === "ecs") {
    // No Docker host to run on: the copy runs in the stack's one-off task.
    process.stdout.write(awsRunbook(settings, await migrationTaskOutputs(settings.stack, dir)));
    return;
  }
  const r = await runMigrate({
    settings,
    projectDir: dir,
    helperImage: opts.helperImage ?? settings.initImage,
    reportFile: opts.report === undefined ? undefined : path.resolve(opts.report),
    backupDir: opts.backupDir === undefined ? undefined : path.resolve(opts.backupDir),
    backupRaw: opts.backupRaw === true,
    aws: settings.environment === "aws" ? awsOptions(settings, opts) : undefined,
    log,
  });
  finish(r.report, r.reportFile, r.exitCode);
  return r.exitCode;
});

/** Inside the ECS one-off task: the task's log, then the report as one JSON line. */
async function inTask(opts: Options): Promise<number> {
  if (opts.stack !== undefined)
    throw new UsageError("--in-task takes no --stack: the task says which");
  const r = await runInTask({ env: process.env, backup: awsCliBackup, log });
  finish(r.report, "(the task log: the report follows)", r.exitCode);
  process.stdout.write(`${JSON.stringify(r.report)}\n`);
  return r.exitCode;
}

/** An AWS stack on the Docker host: RDS by the URL in the environment, the host's engine. */
function awsOptions(settings: Settings, opts: Options): MigrateAws {
  const url = databaseUrl(process.env);
  const host = dockerHostOf(settings, process.env);
  // Every docker CLI this process starts reaches the host's engine, as `pulumi up` does.
  process.env.DOCKER_HOST = host.host;
  log(`migrate-data: Docker host ${host.host} (${host.from}); RDS from ${DATABASE_URL_ENV}`);
  return {
    url,
    psqlImage: opts.psqlImage ?? DEFAULT_PSQL_IMAGE,
    network: opts.psqlNetwork,
    backup: awsCliBackup,
    ebsVolumeId: opts.ebsVolumeId,
  };
}

function finish(report: Report, reportFile: string, exitCode: 0 | 1): void {
  for (const n of report.notes) process.stdout.write(`note    ${n}\n`);
  for (const p of report.problems) process.stdout.write(`PROBLEM ${p}\n`);
  const n = report.sources.length;
  process.stdout.write(
    exitCode === 0
      ? `migrate-data: stack ${report.stack}: ${n} source(s) migrated and verified; report ${reportFile}\n`
      : `migrate-data: stack ${report.stack}: ${report.problems.length} problem(s); report ${reportFile}\n`,
  );
}
