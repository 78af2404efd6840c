import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../archive";
import { migrateCollection } from "./collection";
import { psql, PgTarget } from "./pg";
import { problemsOf, Report, REPORT_FORMAT, SourceReport, summaryLine } from "./report";
import { ChromaStore, collectionTarget } from "./sources";
import { migrateTable } from "./table";
import { SourceTable, TargetTable } from "./targets";

/*
 * The copy itself, once the backup is taken: every compose-era table, then every
 * ChromaDB collection, each in its own transaction, then the notes and the report
 * file. The same for every place migrate-data runs (a local stack, the Docker host,
 * the ECS one-off task); only how psql reaches Postgres differs.
 */

export interface CopyAllArgs {
  readonly pg: PgTarget;
  readonly stack: string;
  readonly startedAt: Date;
  /** What the backup taken first was, for the report. */
  readonly backup: string;
  readonly tables: readonly SourceTable[];
  readonly collections: readonly ChromaStore[];
  readonly reportFile: string;
  readonly log: (line: string) => void;
}

export async function copyAll(a: CopyAllArgs): Promise<Report> {
  const { pg, log } = a;
  const sources: SourceReport[] = [];
  for (const t of a.tables) {
    log(`  table ${t}: copying inside Postgres`);
    sources.push(await migrateTable(pg, t));
    log(`  ${summaryLine(sources[sources.length - 1])}`);
  }
  for (const s of a.collections) {
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
  const report: Report = {
    format: REPORT_FORMAT,
    stack: a.stack,
    startedAt: a.startedAt.toISOString(),
    completedAt: new Date().toISOString(),
    backup: a.backup,
    sources,
    problems: problemsOf(sources),
    notes: await notesOf(pg, sources),
  };
  fs.mkdirSync(path.dirname(a.reportFile), { recursive: true });
  writeFileAtomic(a.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

async function notesOf(pg: PgTarget, sources: readonly SourceReport[]): Promise<string[]> {
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
  return notes;
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
