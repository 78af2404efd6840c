import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Settings } from "../../../components/config/settings";
import { defaultBackupDir } from "../backup-core";
import { backupFirst } from "./backup-first";
import { assertEngine, inspectContainer } from "../docker";
import { EnvironmentError as MissingEnvironment, UsageError } from "../exit-codes";
import { pushUndo } from "../undo";
import { copyAll } from "./copy-all";
import { Report } from "./report";
import { chromaStores, collectionTarget, pgTargetOf, sourceTables } from "./sources";
import { describePg, psql, PgContainer, PgTarget, PgUrl, urlLabel } from "./pg";
import { AwsBackupFn, describeAwsBackup, planAwsBackup, refuseEcs } from "./aws";

/*
 * npm run migrate-data: backup first (the backup tool's own core; no backup, no
 * migration), then every compose-era store into its 0.1 table, one transaction per
 * source, then the report. Exit 0 only when every source was read whole and checked.
 * An AWS stack on the Docker host runs the same copy with psql in a helper container
 * reaching RDS by URL, and starts with an RDS and an EBS snapshot instead.
 */

/** No Docker engine, or a stack this tool cannot work on (ECS): exit 3. */
export class EnvironmentError extends MissingEnvironment {
  override name = "EnvironmentError";
}

export interface MigrateOptions {
  readonly settings: Settings;
  readonly projectDir: string;
  readonly helperImage: string;
  /** Report file. @default <projectDir>/backups/<stack>-<time>-migrate-report.json */
  readonly reportFile?: string;
  /** Backup directory. @default <projectDir>/backups/<stack>-<time>-before-migrate */
  readonly backupDir?: string;
  /** Stop Postgres for a file-level backup instead of pg_dump (which a damaged table fails). */
  readonly backupRaw?: boolean;
  /** An AWS stack on the Docker host: how psql reaches RDS, and the snapshots taken first. */
  readonly aws?: MigrateAws;
  readonly log: (line: string) => void;
}

/** How psql reaches RDS from the Docker host, and how the snapshots before the copy are taken. */
export interface MigrateAws {
  /** The RDS connection string (with its password): never printed, never on a command line. */
  readonly url: string;
  /** Image of the psql helper container. */
  readonly psqlImage: string;
  /** Docker network the helper joins. @default the engine's default bridge */
  readonly network?: string;
  /** The one AWS function (the AWS CLI in production). */
  readonly backup: AwsBackupFn;
  /** The host's EBS data disk. @default aws.adopt.ebsVolumeId, else found by its Name tag */
  readonly ebsVolumeId?: string;
}

export interface MigrateResult {
  readonly report: Report;
  readonly reportFile: string;
  readonly exitCode: 0 | 1;
}

/**
 * The steps, each refusing before anything is written: the AWS options, the engine,
 * Postgres answering; then the sources, the backup, and the copy with its report.
 */
export async function runMigrate(o: MigrateOptions): Promise<MigrateResult> {
  const { settings, log } = o;
  checkAwsOptions(o);
  await assertEngine().catch((e: Error) => {
    throw new EnvironmentError(e.message);
  });
  const pg = await reachablePostgres(o);
  const startedAt = new Date();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migrate-"));
  const dropTmp = pushUndo(`remove ${tmp}`, () => fs.rmSync(tmp, { recursive: true, force: true }));
  try {
    const { tables, collections } = await plannedSources(o, pg, tmp);
    const anything = tables.length + collections.length > 0;
    const backup = anything
      ? await backupBeforeCopy(o, pg, startedAt)
      : "(nothing to migrate: no backup taken)";
    const reportFile =
      o.reportFile ??
      defaultBackupDir(o.projectDir, settings.stack, startedAt, "-migrate-report.json");
    const report = await copyAll({
      pg,
      stack: settings.stack,
      startedAt,
      backup,
      tables,
      collections,
      reportFile,
      log,
    });
    return { report, reportFile, exitCode: report.problems.length > 0 ? 1 : 0 };
  } finally {
    dropTmp();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** An AWS stack needs its RDS connection and cannot stop a Postgres container: exit 2 (ECS: 3). */
function checkAwsOptions(o: MigrateOptions): void {
  if (o.settings.environment !== "aws") return;
  refuseEcs(o.settings);
  if (o.aws === undefined) {
    throw new UsageError(
      `stack "${o.settings.stack}" is an AWS stack: the RDS connection is missing`,
    );
  }
  if (o.backupRaw === true) {
    throw new UsageError(
      `--backup-raw stops the stack's Postgres container, which an AWS stack does not have: on RDS the backup is a snapshot`,
    );
  }
}

/** Where psql reaches the stack's Postgres (RDS by URL, else its container), once it answers. */
async function reachablePostgres(o: MigrateOptions): Promise<PgContainer | PgUrl> {
  if (o.aws !== undefined) {
    const pg: PgUrl = {
      kind: "url",
      url: o.aws.url,
      image: o.aws.psqlImage,
      network: o.aws.network,
      label: urlLabel(o.aws.url),
    };
    await psql(pg, ["SELECT 1"], { transaction: false }).catch((e: Error) => {
      throw new Error(`cannot reach ${describePg(pg)}: ${e.message}; nothing was changed`);
    });
    return pg;
  }
  const pg = pgTargetOf(o.settings);
  const c = pg && (await inspectContainer(pg.container));
  if (pg === undefined || !c?.running) {
    throw new Error(
      `the stack's Postgres container ${pg?.container ?? "(none)"} is not running: start it ` +
        `(pulumi up) and run migrate-data again; nothing was changed`,
    );
  }
  return pg;
}

/** The compose-era tables and the ChromaDB collections (copied into `tmp`) that have a 0.1 table. */
async function plannedSources(o: MigrateOptions, pg: PgTarget, tmp: string) {
  const tables = await sourceTables(pg);
  const collections = (await chromaStores(o.settings, o.helperImage, tmp)).filter(
    (s) => collectionTarget(s.collection.name) !== undefined,
  );
  const planned = [
    ...tables.map((t) => `table ${t}`),
    ...collections.map((s) => `collection ${s.collection.name} in data set ${s.dataSet}`),
  ];
  o.log(
    `migrate-data: stack ${o.settings.stack}: ${planned.length} source(s): ${planned.join(", ") || "none"}`,
  );
  return { tables, collections };
}

/**
 * The backup before anything is written, or an error that stops the migration: on AWS
 * an RDS (and EBS) snapshot, else the backup tool's own core. Returns what it was, for
 * the report.
 */
async function backupBeforeCopy(
  o: MigrateOptions,
  pg: PgContainer | PgUrl,
  startedAt: Date,
): Promise<string> {
  if (o.aws !== undefined) return snapshotsFirst(o.settings, o.aws, startedAt, o.log);
  // Only the AWS options give a URL target.
  if (pg.kind === "url") throw new Error("an RDS target without its AWS options");
  const backupDir =
    o.backupDir ?? defaultBackupDir(o.projectDir, o.settings.stack, startedAt, "-before-migrate");
  o.log(`migrate-data: backup first, into ${backupDir}`);
  await backupFirst({
    settings: o.settings,
    pg,
    outDir: backupDir,
    helperImage: o.helperImage,
    raw: o.backupRaw === true,
    log: o.log,
  });
  return backupDir;
}

/** An AWS stack on the Docker host: an RDS snapshot, then one of the host's EBS data disk. */
async function snapshotsFirst(
  settings: Settings,
  aws: MigrateAws,
  startedAt: Date,
  log: (line: string) => void,
): Promise<string> {
  const plan = planAwsBackup(settings, startedAt, aws.ebsVolumeId);
  log(
    `migrate-data: backup first: RDS snapshot ${plan.rds.snapshotIdentifier} of ${plan.rds.identifier}` +
      (plan.ebs
        ? `, then an EBS snapshot of the data disk ${plan.ebs.volumeId ?? `tagged Name=${plan.ebs.nameTag}`}`
        : "") +
      (plan.efsDataSets.length > 0
        ? ` (efs data sets ${plan.efsDataSets.join(", ")}: AWS Backup keeps them)`
        : ""),
  );
  let backup: string;
  try {
    backup = describeAwsBackup(plan, await aws.backup(plan));
  } catch (e) {
    throw new Error(
      `the snapshot failed, so nothing was migrated: ${(e as Error).message ?? String(e)}`,
    );
  }
  log(`migrate-data: snapshots taken: ${backup}`);
  return backup;
}
