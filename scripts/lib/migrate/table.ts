import { isDamaged, PsqlError, psql, PgTarget, tableExists } from "./pg";
import { SourceReport } from "./report";
import { loadStatements, SOURCE_TABLES, SourceTable } from "./targets";

/*
 * One compose-era table into its 0.1 table, inside the server: one transaction
 * counts the source, counts the ids the target already has, and copies the rest
 * with INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING. The source is only read.
 * The check afterwards looks up every source id in the target, compares the rows
 * with the smallest ids (ids are random UUIDs, so that is a random sample read
 * through the primary key) byte for byte, and searches with one row's own vector as
 * 0.1 does (`ORDER BY embedding <=> v`, the ivfflat index's operator).
 * A table Postgres cannot read (a relation file missing: `could not open file
 * "base/..."`) is reported as damaged and nothing is written for it.
 */

const SAMPLES = 25;

export async function migrateTable(pg: PgTarget, table: SourceTable): Promise<SourceReport> {
  const started = Date.now();
  const m = SOURCE_TABLES[table];
  const base = {
    source: `table ${table}`,
    target: m.target,
    unusable: 0,
    unusableIds: [],
    withoutVector: 0,
    derivedIds: 0,
  };
  try {
    const [read, withoutVector, present, inserted] = (
      await psql(
        pg,
        loadStatements(m.target, await tableExists(pg, m.target), [
          `SELECT count(*) FROM ${table}`,
          `SELECT count(*) FROM ${table} WHERE embedding IS NULL`,
          `SELECT count(*) FROM ${table} s JOIN ${m.target} t USING (id)`,
          `WITH ins AS (INSERT INTO ${m.target} (id, item_text, embedding, item_type, metadata, created_at) ` +
            `SELECT id, ${m.text}, embedding, ${m.type}, metadata, created_at FROM ${table} ` +
            `ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM ins`,
        ]),
      )
    ).map(Number);
    return {
      ...base,
      status: "migrated",
      read,
      inserted,
      alreadyPresent: present,
      withoutVector,
      seconds: (Date.now() - started) / 1000,
      verification: await verify(pg, table),
    };
  } catch (e) {
    const message = e instanceof PsqlError ? e.message : (e as Error).message;
    return {
      ...base,
      status: isDamaged(message) ? "damaged" : "failed",
      read: 0,
      inserted: 0,
      alreadyPresent: 0,
      seconds: (Date.now() - started) / 1000,
      error: message,
    };
  }
}

async function verify(pg: PgTarget, table: SourceTable): Promise<SourceReport["verification"]> {
  const m = SOURCE_TABLES[table];
  const [missing] = await psql(
    pg,
    [`SELECT count(*) FROM ${table} s LEFT JOIN ${m.target} t USING (id) WHERE t.id IS NULL`],
    { transaction: false },
  );
  const differing = await psql(
    pg,
    [
      `SELECT s.id FROM (SELECT * FROM ${table} ORDER BY id LIMIT ${SAMPLES}) s ` +
        `LEFT JOIN ${m.target} t USING (id) WHERE t.id IS NULL OR t.item_text IS DISTINCT FROM s.${m.text} ` +
        `OR vector_send(t.embedding) IS DISTINCT FROM vector_send(s.embedding)`,
    ],
    { transaction: false },
  );
  const [sampled] = await psql(pg, [`SELECT least(count(*), ${SAMPLES}) FROM ${table}`], {
    transaction: false,
  });
  const probe = await psql(
    pg,
    [
      `SELECT p.id || '|' || (p.id IN (SELECT t.id FROM ${m.target} t ORDER BY t.embedding <=> p.embedding LIMIT 5)) ` +
        `FROM (SELECT id, embedding FROM ${table} WHERE embedding IS NOT NULL ORDER BY id LIMIT 1) p`,
    ],
    { transaction: false },
  );
  const [id, found] = probe[0]?.split("|") ?? [];
  return {
    sampled: Number(sampled),
    equal: Number(sampled) - differing.length,
    differing,
    missing: Number(missing),
    similarity: id === undefined ? undefined : { id, found: found === "true", k: 5 },
  };
}
