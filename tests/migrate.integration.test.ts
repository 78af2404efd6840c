import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { FixtureDoc, floatBlob, writeChroma } from "../scripts/bench/chroma-fixture";
import { startFixturePostgres } from "./support/docker-cli";
import { docs } from "./support/migrate-docs";
import {
  composeTable,
  putChroma,
  startStackPostgres,
  tableDigest,
  volumeDigest,
} from "./support/migrate-fixture";
import { cleanupEngine, ctr, psql, RUN, stackFile, TMP, tool, vol } from "./support/pg-engine";
import { derivedUuid, vectorField } from "../scripts/lib/migrate/copy-binary";
import { Report } from "../scripts/lib/migrate/report";

/*
 * npm run migrate-data on the real engine, against a compose-era deployment the test
 * builds from PANOPTICON.md's facts: every source -> target mapping, the rerun that
 * finds everything present, the originals untouched, and 0.1's own queries reading
 * the migrated rows from tables laid out exactly as 0.1 creates them.
 */

jest.setTimeout(600_000);
afterAll(cleanupEngine);

function reportOf(stdout: string): Report {
  const file = /report (\S+)/.exec(stdout)?.[1];
  if (!file) throw new Error(`no report named in: ${stdout}`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as Report;
}

describe("a clean compose-era deployment migrates whole", () => {
  const stack = stackFile(`mig${RUN}`);
  const args = ["--dir", TMP, "--stack", stack];
  let pg = "";
  const query = docs("queries", 30);
  const evaluation = docs("evaluation_metrics", 20);
  const judge = docs("llm_outputs", 20);
  // ChromaDB flushed this one's vector to the HNSW files: chroma.sqlite3 no longer has it.
  query[0] = { ...query[0], inQueue: false };
  // ...and this one is still only in the queue, not yet in the metadata segment.
  query[1] = { ...query[1], queueOnly: true };
  // The judge stored provider completion ids, which are not UUIDs.
  judge[0] = { ...judge[0], id: "chatcmpl-7QyqpwdfhqwajicIEznoc6Q47XAyW" };
  const before: Record<string, string> = {};
  let first: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    pg = startStackPostgres(stack);
    composeTable(pg, "queries", 50);
    composeTable(pg, "evaluation_metrics", 40);
    putChroma(stack, "query", [{ name: "queries", docs: query }]);
    putChroma(stack, "evaluation", [{ name: "evaluation_metrics", docs: evaluation }]);
    putChroma(stack, "judge", [{ name: "llm_outputs", docs: judge }]);
    for (const set of ["query", "evaluation", "judge"]) before[set] = volumeDigest(vol(stack, set));
    for (const t of ["queries", "evaluation_metrics"]) before[t] = tableDigest(pg, t);
    first = await tool("migrate-data", args);
  });

  it("backs up first, migrates all five sources and exits 0", () => {
    expect(first.stderr).toMatch(/backup complete/);
    expect(first.stderr.indexOf("backup complete")).toBeLessThan(
      first.stderr.indexOf("table queries: copying"),
    );
    const r = reportOf(first.stdout);
    expect(r.problems).toEqual([]);
    expect(r.notes.filter((n) => /more than once/.test(n))).toEqual([]);
    expect(first.code).toBe(0);
    expect(fs.existsSync(path.join(r.backup, "manifest.json"))).toBe(true);
    expect(
      r.sources.map((s) => [s.source, s.target, s.read, s.inserted, s.alreadyPresent]),
    ).toEqual([
      ["table evaluation_metrics", "items_metrics", 40, 40, 0],
      ["table queries", "items_queries", 50, 50, 0],
      ["collection evaluation_metrics in data set evaluation", "items_metrics", 20, 20, 0],
      ["collection llm_outputs in data set judge", "llm_outputs", 20, 20, 0],
      ["collection queries in data set query", "items_queries", 30, 30, 0],
    ]);
    for (const s of r.sources) {
      expect(s.verification?.equal).toBe(s.verification?.sampled);
      expect(s.verification?.similarity?.found).toBe(true);
    }
    expect(psql(pg, "SELECT count(*) FROM items_queries")).toBe("80");
    expect(psql(pg, "SELECT count(*) FROM items_metrics")).toBe("60");
    expect(psql(pg, "SELECT count(*) FROM llm_outputs")).toBe("20");
  });

  it("maps the tables: query_text/prompt -> item_text, theme/metric_type -> item_type, the rest as it was", () => {
    for (const [src, dst, text, type] of [
      ["queries", "items_queries", "query_text", "theme"],
      ["evaluation_metrics", "items_metrics", "prompt", "metric_type"],
    ]) {
      const differ = psql(
        pg,
        `SELECT count(*) FROM ${src} s JOIN ${dst} t USING (id) WHERE t.item_text <> s.${text}
           OR t.item_type <> s.${type} OR t.metadata <> s.metadata OR t.created_at <> s.created_at
           OR vector_send(t.embedding) IS DISTINCT FROM vector_send(s.embedding)`,
      );
      expect([src, differ]).toEqual([src, "0"]);
      expect(psql(pg, `SELECT count(*) FROM ${src} s JOIN ${dst} t USING (id)`)).not.toBe("0");
    }
  });

  it("maps the collections: text, type, metadata, created_at and the float32 bytes of each vector", () => {
    const check = (d: FixtureDoc, table: string, typeCol: string, typeKey: string) => {
      const row = psql(
        pg,
        `SELECT ${table === "llm_outputs" ? "output_text" : "item_text"} || '|' || ${typeCol} || '|' ||
           metadata::text || '|' || created_at || '|' || COALESCE(encode(vector_send(embedding), 'hex'), '-')
         FROM ${table} WHERE id = '${d.id}'`,
      );
      const [text, type, meta, created, vec] = row.split("|");
      expect(text).toBe(d.text);
      expect(type).toBe(String(d.metadata[typeKey]));
      expect(JSON.parse(meta)).toEqual(d.metadata);
      expect(created).toBe(String(d.metadata.timestamp).replace("T", " "));
      expect(vec).toBe(vectorField(floatBlob(d.vector), 384).toString("hex"));
    };
    check(query[5], "items_queries", "item_type", "theme");
    check(query[1], "items_queries", "item_type", "theme"); // queue only
    check(evaluation[3], "items_metrics", "item_type", "metric_type");
    check(judge[4], "llm_outputs", "model_id", "model_id");
    expect(
      psql(pg, `SELECT theme || '|' || query FROM llm_outputs WHERE id = '${judge[4].id}'`),
    ).toBe(`t|${judge[4].metadata.query}`);
  });

  it("copies a document whose vector is only in the segment files with its text and a NULL embedding, and counts it", () => {
    expect(
      psql(
        pg,
        `SELECT item_text || '|' || (embedding IS NULL) FROM items_queries WHERE id = '${query[0].id}'`,
      ),
    ).toBe(`${query[0].text}|true`);
    const r = reportOf(first.stdout);
    expect(r.sources.find((s) => s.source.startsWith("collection queries"))?.withoutVector).toBe(1);
  });

  it("gives a non-UUID ChromaDB id a derived UUID and keeps the original in metadata.chroma_id", () => {
    const id = derivedUuid(judge[0].id);
    expect(psql(pg, `SELECT metadata->>'chroma_id' FROM llm_outputs WHERE id = '${id}'`)).toBe(
      judge[0].id,
    );
  });

  it("leaves the originals byte-identical: data-set files and source tables", () => {
    for (const set of ["query", "evaluation", "judge"]) {
      expect([set, volumeDigest(vol(stack, set))]).toEqual([set, before[set]]);
    }
    for (const t of ["queries", "evaluation_metrics"])
      expect([t, tableDigest(pg, t)]).toEqual([t, before[t]]);
  });

  it("creates the targets exactly as release 0.1 does (columns, ivfflat index, type index)", () => {
    // 0.1's statements, transcribed from item_storage/pg_item_storage.py (99f909c) and
    // judge_service/pg_judge_storage.py, run in a scratch database for comparison.
    psql(pg, "CREATE DATABASE ref01");
    psql(pg, "CREATE EXTENSION vector", "ref01");
    for (const t of ["items_queries", "items_metrics"]) {
      psql(
        pg,
        `CREATE TABLE IF NOT EXISTS ${t} (id UUID PRIMARY KEY, item_text TEXT NOT NULL, embedding VECTOR(384),
           item_type TEXT NOT NULL, metadata JSONB, created_at TIMESTAMP NOT NULL DEFAULT NOW());
         CREATE INDEX IF NOT EXISTS ${t}_embedding_idx ON ${t} USING ivfflat (embedding vector_cosine_ops);
         CREATE INDEX IF NOT EXISTS ${t}_type_idx ON ${t} (item_type);`,
        "ref01",
      );
    }
    psql(
      pg,
      `CREATE TABLE IF NOT EXISTS llm_outputs (id UUID PRIMARY KEY, output_text TEXT NOT NULL,
         embedding VECTOR(384), model_id TEXT NOT NULL, theme TEXT NOT NULL, query TEXT NOT NULL,
         metadata JSONB, created_at TIMESTAMP NOT NULL DEFAULT NOW());
       CREATE INDEX IF NOT EXISTS llm_outputs_embedding_idx ON llm_outputs USING ivfflat (embedding vector_cosine_ops);`,
      "ref01",
    );
    const layout = (db: string) =>
      psql(
        pg,
        `SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
           SELECT table_name || '.' || column_name || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' ||
                  is_nullable || ' ' || COALESCE(column_default, '') AS x
           FROM information_schema.columns c
           JOIN pg_attribute a ON a.attrelid = c.table_name::regclass AND a.attname = c.column_name
           WHERE table_name IN ('items_queries', 'items_metrics', 'llm_outputs')
           UNION ALL SELECT indexdef FROM pg_indexes WHERE tablename IN ('items_queries', 'items_metrics', 'llm_outputs')
         ) s`,
        db,
      );
    const ours = layout("panopticon");
    expect(ours).toMatch(/USING ivfflat \(embedding vector_cosine_ops\)/);
    expect(ours).toMatch(
      /items_queries_type_idx ON public.items_queries USING btree \(item_type\)/,
    );
    expect(ours).toBe(layout("ref01"));
  });

  it("0.1's own queries find the migrated rows (similarity search and by type)", () => {
    const d = query[7];
    const v = `[${Array.from(d.vector).join(",")}]`;
    // search_similar_items, as pg_item_storage.py issues it.
    const near = psql(
      pg,
      `SELECT id FROM (SELECT id, item_text, metadata, 1 - (embedding <=> '${v}'::vector) as similarity
         FROM items_queries ORDER BY embedding <=> '${v}'::vector LIMIT 5) s LIMIT 1`,
    );
    expect(near).toBe(d.id);
    // get_items_by_type
    const byType = psql(
      pg,
      `SELECT count(*) FROM (SELECT id, item_text, metadata, created_at FROM items_queries
         WHERE item_type = 'theme1' ORDER BY created_at DESC LIMIT 100 OFFSET 0) s`,
    );
    expect(Number(byType)).toBe(query.filter((q) => q.metadata.theme === "theme1").length);
  });

  it("a rerun finds every row already present, inserts nothing and still exits 0", async () => {
    const again = await tool("migrate-data", args);
    expect(again.code).toBe(0);
    const r = reportOf(again.stdout);
    for (const s of r.sources) {
      expect([s.source, s.inserted, s.alreadyPresent]).toEqual([s.source, 0, s.read]);
    }
    expect(psql(pg, "SELECT count(*) FROM items_queries")).toBe("80");
    expect(psql(pg, "SELECT count(*) FROM llm_outputs")).toBe("20");
  });
});

describe("bind mode: ./data directories as BIND_MOUNT_README.md kept them", () => {
  const dataDir = path.join(TMP, `data-mgb${RUN}`);
  const stack = stackFile(`mgb${RUN}`, [
    "  panopticon:storageMode: bind",
    `  panopticon:dataDir: ${dataDir}`,
  ]);
  const pg = ctr(stack, "postgres");
  const judge = docs("llm_outputs", 12);
  const chroma = path.join(dataDir, "judge_service", "chroma.sqlite3");
  let digest = "";

  beforeAll(() => {
    fs.mkdirSync(path.join(dataDir, "postgres"), { recursive: true });
    fs.mkdirSync(path.dirname(chroma), { recursive: true });
    writeChroma(chroma, [{ name: "llm_outputs", docs: judge }]);
    digest = createHash("sha256").update(fs.readFileSync(chroma)).digest("hex");
    startFixturePostgres(pg, `type=bind,src=${path.join(dataDir, "postgres")}`);
    psql(pg, "CREATE EXTENSION vector");
    composeTable(pg, "evaluation_metrics", 8);
  });

  it("migrates the table and the judge's collection from the directories; the file is untouched", async () => {
    const r = await tool("migrate-data", ["--dir", TMP, "--stack", stack]);
    expect(r.code).toBe(0);
    expect(reportOf(r.stdout).sources.map((s) => [s.source, s.inserted])).toEqual([
      ["table evaluation_metrics", 8],
      ["collection llm_outputs in data set judge", 12],
    ]);
    expect(psql(pg, "SELECT count(*) FROM llm_outputs")).toBe("12");
    expect(createHash("sha256").update(fs.readFileSync(chroma)).digest("hex")).toBe(digest);
    expect(fs.readdirSync(path.dirname(chroma))).toEqual(["chroma.sqlite3"]);
  });
});
