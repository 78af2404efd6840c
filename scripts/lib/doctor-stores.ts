import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Settings } from "../../components/config/settings";
import {
  configToRead,
  migrationTarget,
  readersOf,
  Store,
  StoreRead,
  storeKey,
  storesRead,
} from "../../components/stores";
import { inspectContainer } from "./docker";
import { countDocuments, listCollections, openChroma } from "./migrate/chroma";
import { psql } from "./migrate/pg";
import { copyChroma, pgTargetOf, storeServicesOf } from "./migrate/sources";
import { describeMount, mountOf } from "./stack";

/*
 * doctor, per store: how many rows or documents it holds, which service reads it
 * (components/stores.ts over the stack's resolved services) and, when none does,
 * the configuration that would and the command that migrates it. Every relation it
 * cannot read is named. Read-only: ChromaDB files are read from a copy.
 */

/** Tables any Panopticon layout reads (PANOPTICON.md "Where each store lives"). */
const KNOWN_TABLES = [
  "queries",
  "evaluation_metrics",
  "llm_outputs",
  "items_queries",
  "items_metrics",
];

/** One line of the doctor's report (doctor-core.ts prints them). */
export interface Finding {
  readonly dataSet: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface StoreCount {
  readonly store: Store;
  /** The data set it lives in (Postgres's for tables). */
  readonly dataSet: string;
  readonly rows?: number;
  /** Why it could not be read. */
  readonly error?: string;
}

/** The verdicts on the stores found. Pure. */
export function judgeStores(o: {
  readonly stack: string;
  readonly reads: readonly StoreRead[];
  readonly found: readonly StoreCount[];
  /** False when Postgres could not be asked: absent tables are then not reported. */
  readonly tablesChecked: boolean;
}): Finding[] {
  const out: Finding[] = [];
  for (const f of o.found) {
    const name = storeKey(f.store).replace(/ in \S+$/, "");
    const readers = readersOf(o.reads, f.store);
    const by = readers.map((r) => `${r.service} (${r.because})`).join(", ");
    const noun = f.store.kind === "table" ? "row" : "document";
    if (f.error !== undefined) {
      out.push({
        dataSet: f.dataSet,
        ok: false,
        message: `${name}: cannot be read: ${f.error}${readers.length > 0 ? `; ${by} reads it` : ""}`,
      });
      continue;
    }
    const rows = f.rows ?? 0;
    const held = `${name} holds ${rows} ${noun}${rows === 1 ? "" : "s"}`;
    if (readers.length > 0) {
      out.push({ dataSet: f.dataSet, ok: true, message: `${held}, read by ${by}` });
    } else if (rows === 0) {
      out.push({
        dataSet: f.dataSet,
        ok: true,
        message: `${held}; no service reads it, nothing is lost`,
      });
    } else {
      const target = migrationTarget(f.store);
      out.push({
        dataSet: f.dataSet,
        ok: false,
        message:
          `${held} that no service reads: it needs ${configToRead(f.store)}` +
          (target
            ? `; npm run migrate-data -- --stack ${o.stack} copies it into table ${target}`
            : ""),
      });
    }
  }
  // A store a service reads that is nowhere to be found: the service starts empty.
  for (const r of o.reads) {
    if (r.store.kind === "collection" && r.store.dataSet === undefined) continue; // judged per data set
    const there = o.found.some((f) => readersOf([r], f.store).length > 0);
    if (!there && r.store.kind === "table" && o.tablesChecked) {
      out.push({
        dataSet: "postgres",
        ok: true,
        message: `table ${r.store.table} does not exist yet: ${r.service} (${r.because}) creates it empty`,
      });
    }
  }
  return out;
}

/** Counts rows per known table and documents per collection; what cannot be read says why. */
export async function countStores(
  settings: Settings,
  helperImage: string,
): Promise<{ found: StoreCount[]; unchecked: string[]; unreadable: Finding[] }> {
  const found: StoreCount[] = [];
  const unchecked: string[] = [];
  const unreadable: Finding[] = [];
  const reads = storesRead(storeServicesOf(settings));
  const pg = pgTargetOf(settings);
  const pgSet = settings.postgres.service
    ? settings.services.find((s) => s.name === settings.postgres.service)?.dataSet?.key
    : undefined;
  if (pg && (await inspectContainer(pg.container))?.running) {
    const wanted = new Set(KNOWN_TABLES);
    for (const r of reads) if (r.store.kind === "table") wanted.add(r.store.table);
    try {
      const names = await psql(
        pg,
        [
          `SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = 'public'::regnamespace ` +
            `AND relname = ANY (ARRAY[${[...wanted].map((t) => `'${t.replace(/'/g, "''")}'`).join(", ")}]) ORDER BY 1`,
        ],
        { transaction: false },
      );
      for (const table of names) {
        const store: Store = { kind: "table", table };
        try {
          const [n] = await psql(pg, [`SELECT count(*) FROM "${table}"`], { transaction: false });
          found.push({ store, dataSet: pgSet ?? "postgres", rows: Number(n) });
        } catch (e) {
          found.push({ store, dataSet: pgSet ?? "postgres", error: (e as Error).message });
        }
      }
    } catch (e) {
      unchecked.push(`tables (${(e as Error).message})`);
    }
  } else if (pg) {
    unchecked.push(`tables (container ${pg.container} is not running)`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-doctor-"));
  try {
    for (const d of settings.dataSets) {
      if (d.service === settings.postgres.service) continue;
      try {
        const file = await copyChroma(settings, d.key, helperImage, tmp);
        if (file === undefined) continue;
        const db = openChroma(file);
        try {
          for (const c of listCollections(db)) {
            const store: Store = {
              kind: "collection",
              collection: c.name,
              persistDir: d.mountPath,
              dataSet: d.key,
            };
            try {
              found.push({ store, dataSet: d.key, rows: countDocuments(db, c) });
            } catch (e) {
              found.push({ store, dataSet: d.key, error: (e as Error).message });
            }
          }
        } finally {
          db.close();
        }
      } catch (e) {
        unreadable.push({
          dataSet: d.key,
          ok: false,
          message: `chroma.sqlite3 in ${describeMount(mountOf(d))} cannot be read: ${(e as Error).message}`,
        });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { found, unchecked, unreadable };
}
