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
import { describePg, psql, PgTarget, urlLabel } from "./pg";
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
  readonly aws?: {
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
  };
  readonly log: (line: string) => void;
}

export interface MigrateResult {
  readonly report: Report;
  readonly reportFile: string;
  readonly exitCode: 0 | 1;
}

export async function runMigrate(o: MigrateOptions): Promise<MigrateResult> {
  const { settings, log } = o;
  const onAws = settings.environment === "aws";
  if (onAws) {
    refuseEcs(settings);
    if (o.aws === undefined) {
      throw new UsageError(
        `stack "${settings.stack}" is an AWS stack: the RDS connection is missing`,
      );
    }
    if (o.backupRaw === true) {
      throw new UsageError(
        `--backup-raw stops the stack's Postgres container, which an AWS stack does not have: on RDS the backup is a snapshot`,
      );
    }
  }
  await assertEngine().catch((e: Error) => {
    throw new EnvironmentError(e.message);
  });
  const pg: PgTarget | undefined = o.aws
    ? {
        kind: "url",
        url: o.aws.url,
        image: o.aws.psqlImage,
        network: o.aws.network,
        label: urlLabel(o.aws.url),
      }
    : pgTargetOf(settings);
  if (pg?.kind === "url") {
    await psql(pg, ["SELECT 1"], { transaction: false }).catch((e: Error) => {
      throw new Error(`cannot reach ${describePg(pg)}: ${e.message}; nothing was changed`);
    });
  } else {
    const c = pg && (await inspectContainer(pg.container));
    if (pg === undefined || !c?.running) {
      throw new Error(
        `the stack's Postgres container ${pg?.container ?? "(none)"} is not running: start it ` +
          `(pulumi up) and run migrate-data again; nothing was changed`,
      );
    }
  }
  const startedAt = new Date();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migrate-"));
  const dropTmp = pushUndo(`remove ${tmp}`, () => fs.rmSync(tmp, { recursive: true, force: true }));
  try {
    const tables = await sourceTables(pg);
    const collections = (await chromaStores(settings, o.helperImage, tmp)).filter(
      (s) => collectionTarget(s.collection.name) !== undefined,
    );
    const planned = [
      ...tables.map((t) => `table ${t}`),
      ...collections.map((s) => `collection ${s.collection.name} in data set ${s.dataSet}`),
    ];
    log(
      `migrate-data: stack ${settings.stack}: ${planned.length} source(s): ${planned.join(", ") || "none"}`,
    );

    let backup = "(nothing to migrate: no backup taken)";
    const backupDir =
      o.backupDir ?? defaultBackupDir(o.projectDir, settings.stack, startedAt, "-before-migrate");
    if (planned.length > 0 && o.aws !== undefined) {
      const plan = planAwsBackup(settings, startedAt, o.aws.ebsVolumeId);
      log(
        `migrate-data: backup first: RDS snapshot ${plan.rds.snapshotIdentifier} of ${plan.rds.identifier}` +
          (plan.ebs
            ? `, then an EBS snapshot of the data disk ${plan.ebs.volumeId ?? `tagged Name=${plan.ebs.nameTag}`}`
            : "") +
          (plan.efsDataSets.length > 0
            ? ` (efs data sets ${plan.efsDataSets.join(", ")}: AWS Backup keeps them)`
            : ""),
      );
      try {
        backup = describeAwsBackup(plan, await o.aws.backup(plan));
      } catch (e) {
        throw new Error(
          `the snapshot failed, so nothing was migrated: ${(e as Error).message ?? String(e)}`,
        );
      }
      log(`migrate-data: snapshots taken: ${backup}`);
    } else if (planned.length > 0 && pg.kind !== "url") {
      backup = backupDir;
      log(`migrate-data: backup first, into ${backupDir}`);
      await backupFirst({
        settings,
        pg,
        outDir: backupDir,
        helperImage: o.helperImage,
        raw: o.backupRaw === true,
        log,
      });
    }

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
