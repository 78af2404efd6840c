import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Settings } from "../../../components/settings";
import { writeFileAtomic } from "../archive";
import { defaultBackupDir } from "../backup-core";
import { backupFirst } from "./backup-first";
import { assertEngine, inspectContainer } from "../docker";
import { RefusedError } from "../stack";
import { pushUndo } from "../undo";
import { migrateCollection } from "./collection";
import { problemsOf, Report, REPORT_FORMAT, SourceReport, summaryLine } from "./report";
import { chromaStores, collectionTarget, pgTargetOf, sourceTables } from "./sources";
import { psql, PgTarget } from "./pg";
import { migrateTable } from "./table";
import { TargetTable } from "./targets";

/*
 * npm run migrate-data: backup first (the backup tool's own core; no backup, no
 * migration), then every compose-era store into its 0.1 table, one transaction per
 * source, then the report. Exit 0 only when every source was read whole and checked.
 */

/** No Docker engine, or a stack this local tool cannot work on: exit 3. */
export class EnvironmentError extends RefusedError {
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
  readonly log: (line: string) => void;
}

export interface MigrateResult {
  readonly report: Report;
  readonly reportFile: string;
  readonly exitCode: 0 | 1;
}

export async function runMigrate(o: MigrateOptions): Promise<MigrateResult> {
  const { settings, log } = o;
  if (settings.environment === "aws") {
    throw new EnvironmentError(
      `stack "${settings.stack}" has environment "aws": migrate-data reaches Postgres through the ` +
        `stack's own Postgres container, which an AWS stack does not have (RDS). Nothing was touched. ` +
        `See docs/migration.md, or run with --print-aws-runbook.`,
    );
  }
  await assertEngine().catch((e: Error) => {
    throw new EnvironmentError(e.message);
  });
  const pg = pgTargetOf(settings);
  const c = pg && (await inspectContainer(pg.container));
  if (pg === undefined || !c?.running) {
    throw new Error(
      `the stack's Postgres container ${pg?.container ?? "(none)"} is not running: start it ` +
        `(pulumi up) and run migrate-data again; nothing was changed`,
    );
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

    const backupDir =
      o.backupDir ?? defaultBackupDir(o.projectDir, settings.stack, startedAt, "-before-migrate");
    if (planned.length > 0) {
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

    const sources: SourceReport[] = [];
    for (const t of tables) {
      log(`  table ${t}: copying inside Postgres`);
      sources.push(await migrateTable(pg, t));
      log(`  ${summaryLine(sources[sources.length - 1])}`);
    }
    for (const s of collections) {
      const label = `collection ${s.collection.name} in data set ${s.dataSet}`;
      let last = 0;
      const r = await migrateCollection(
        pg,
        {
          label,
          file: s.file,
          collection: s.collection,
          target: collectionTarget(s.collection.name)!,
        },
        (done, total) => {
          if (done === 0 || done === total || Date.now() - last >= 1000) {
            last = Date.now();
            log(`  ${label}: ${done}/${total} documents streamed`);
          }
        },
      );
      sources.push(r);
      log(`  ${summaryLine(r)}`);
    }

    const notes: string[] = [];
    for (const target of new Set(
      sources.filter((s) => s.status === "migrated").map((s) => s.target as TargetTable),
    )) {
      const n = await repeatedTexts(pg, target);
      if (n > 0) {
        notes.push(
          `${target}: ${n} text(s) stored more than once under different ids (the same item kept in two ` +
            `compose-era stores, e.g. after upstream's own migrate_to_postgres.py, which gave new ids): all kept`,
        );
      }
    }
    for (const s of sources) {
      if (s.withoutVector > 0) {
        notes.push(
          `${s.source}: ${s.withoutVector} row(s) copied with a NULL embedding (no vector in the store): 0.1's similarity search cannot find them`,
        );
      }
    }
    const report: Report = {
      format: REPORT_FORMAT,
      stack: settings.stack,
      startedAt: startedAt.toISOString(),
      completedAt: new Date().toISOString(),
      backup: planned.length > 0 ? backupDir : "(nothing to migrate: no backup taken)",
      sources,
      problems: problemsOf(sources),
      notes,
    };
    const reportFile =
      o.reportFile ??
      defaultBackupDir(o.projectDir, settings.stack, startedAt, "-migrate-report.json");
    fs.mkdirSync(path.dirname(reportFile), { recursive: true });
    writeFileAtomic(reportFile, `${JSON.stringify(report, null, 2)}\n`);
    return { report, reportFile, exitCode: report.problems.length > 0 ? 1 : 0 };
  } finally {
    dropTmp();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** How many texts of a 0.1 table appear under more than one id (with the same type). */
async function repeatedTexts(pg: PgTarget, table: TargetTable): Promise<number> {
  const [text, type] =
    table === "llm_outputs" ? ["output_text", "model_id"] : ["item_text", "item_type"];
  const [n] = await psql(
    pg,
    [
      `SELECT count(*) FROM (SELECT 1 FROM ${table} GROUP BY ${text}, ${type} HAVING count(*) > 1) d`,
    ],
    { transaction: false },
  );
  return Number(n);
}
