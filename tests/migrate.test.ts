import * as fs from "fs";
import { DatabaseSync } from "node:sqlite";
import * as os from "os";
import * as path from "path";
import { floatBlob, randomVector, writeChroma } from "../scripts/bench/chroma-fixture";
import { docs } from "./support/migrate-docs";
import {
  ChromaDocument,
  countDocuments,
  documents,
  listCollections,
  openChroma,
} from "../scripts/lib/migrate/chroma";
import {
  copyHeader,
  copyRow,
  decodeFloat32,
  derivedUuid,
  timestampField,
  vectorField,
  vectorLiteral,
} from "../scripts/lib/migrate/copy-binary";
import { copyStream, newTally, StreamArgs } from "../scripts/lib/migrate/collection-stream";
import { copyTrailer } from "../scripts/lib/migrate/copy-binary";
import { problemsOf, SourceReport } from "../scripts/lib/migrate/report";
import { chromaRow, stagingColumns } from "../scripts/lib/migrate/targets";

/*
 * The pure parts of migrate-data: ChromaDB's FLOAT32 vectors into pgvector's binary
 * form, the binary COPY framing, the SQLite reader on a file with the documented
 * layout, the document -> row mapping, a collection as one COPY stream and the report's
 * verdict. Each rule with the
 * input it must refuse.
 */

describe("vectors", () => {
  it("turns FLOAT32 little-endian into pgvector's send form: int16 dims, int16 0, float4 big-endian", () => {
    const le = floatBlob(Float32Array.from([1, -2]));
    expect(le.toString("hex")).toBe("0000803f000000c0");
    expect(vectorField(le, 2).toString("hex")).toBe("000200003f800000c0000000");
  });

  it("refuses a blob of another length than the dimensions", () => {
    expect(() => vectorField(Buffer.alloc(12), 4)).toThrow(/expected 4 float32/);
  });

  it("prints floats that parse back to the same float32 (the similarity probe's literal)", () => {
    const v = randomVector();
    const back = vectorLiteral(decodeFloat32(floatBlob(v)))
      .slice(1, -1)
      .split(",")
      .map((x) => Math.fround(Number(x)));
    expect(Float32Array.from(back)).toEqual(v);
  });
});

describe("binary COPY framing", () => {
  it("writes the signature, then a field count and a length per field (-1 for NULL)", () => {
    expect(copyHeader().subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
    expect(copyHeader()).toHaveLength(19);
    expect(copyRow([Buffer.from("ab"), undefined]).toString("hex")).toBe(
      "0002" + "00000002" + "6162" + "ffffffff",
    );
  });

  it("timestamps: microseconds since 2000-01-01, from Python's isoformat; anything else is no time", () => {
    expect(timestampField("2000-01-01T00:00:00")?.readBigInt64BE()).toBe(0n);
    expect(timestampField("2000-01-01T00:00:00.000001")?.readBigInt64BE()).toBe(1n);
    expect(timestampField("2000-01-01 00:00:01.5")?.readBigInt64BE()).toBe(1_500_000n);
    expect(timestampField("1999-12-31T23:59:59Z")?.readBigInt64BE()).toBe(-1_000_000n);
    expect(timestampField("yesterday")).toBeUndefined();
    expect(timestampField("2025-01-01T00:00:00+02:00")).toBeUndefined();
  });

  it("derives the same version-5 UUID for the same ChromaDB id, another for another", () => {
    const a = derivedUuid("chatcmpl-1");
    expect(a).toBe(derivedUuid("chatcmpl-1"));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedUuid("chatcmpl-2")).not.toBe(a);
  });
});

describe("reading chroma.sqlite3", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-chroma-unit-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "chroma.sqlite3");
  const q = docs("queries", 6);
  q[0] = { ...q[0], inQueue: false };
  q[1] = { ...q[1], queueOnly: true };
  const ids = writeChroma(file, [
    { name: "queries", docs: q },
    { name: "llm_outputs", docs: docs("llm_outputs", 2) },
  ]);
  // A later UPDATE with a new vector, and a document added then deleted from the queue.
  const raw = new DatabaseSync(file);
  const topic = `persistent://default/default/${ids.queries}`;
  const newer = randomVector();
  raw
    .prepare(
      "INSERT INTO embeddings_queue (operation, topic, id, vector, encoding) VALUES (1, ?, ?, ?, 'FLOAT32')",
    )
    .run(topic, q[2].id, floatBlob(newer));
  raw
    .prepare(
      "INSERT INTO embeddings_queue (operation, topic, id, vector, encoding, metadata) VALUES (0, ?, 'gone', ?, 'FLOAT32', '{}')",
    )
    .run(topic, floatBlob(randomVector()));
  raw
    .prepare("INSERT INTO embeddings_queue (operation, topic, id) VALUES (3, ?, 'gone')")
    .run(topic);
  raw.close();

  const db = openChroma(file);
  afterAll(() => db.close());
  const coll = listCollections(db).find((c) => c.name === "queries")!;
  const all = [...documents(db, coll)];
  const byId = new Map(all.map((d) => [d.id, d]));

  it("lists the collections with their dimension, and counts only live documents", () => {
    expect(listCollections(db).map((c) => [c.name, c.dimension])).toEqual([
      ["llm_outputs", 384],
      ["queries", 384],
    ]);
    expect(countDocuments(db, coll)).toBe(6);
    expect(all).toHaveLength(6);
    expect(byId.has("gone")).toBe(false);
  });

  it("takes text and metadata from the metadata segment, without the chroma:document key", () => {
    const d = byId.get(q[4].id)!;
    expect(d.document).toBe(q[4].text);
    expect(d.metadata).toEqual(q[4].metadata);
    expect(Buffer.from(d.vector!).equals(floatBlob(q[4].vector))).toBe(true);
  });

  it("a document still only in the queue comes with the queue's metadata", () => {
    const d = byId.get(q[1].id)!;
    expect([d.document, d.metadata]).toEqual([q[1].text, q[1].metadata]);
  });

  it("the newest vector wins; a vector only in the segment files comes as none", () => {
    expect(Buffer.from(byId.get(q[2].id)!.vector!).equals(floatBlob(newer))).toBe(true);
    expect(byId.get(q[0].id)!.vector).toBeUndefined();
  });
});

describe("a document as a row", () => {
  const [d] = docs("queries", 1);
  const doc = {
    id: d.id,
    document: d.text,
    metadata: d.metadata,
    vector: floatBlob(d.vector),
    encoding: "FLOAT32",
  };

  it("fills every staging column: id, text, vector, type from metadata.theme, metadata, created_at", () => {
    const m = chromaRow("items_queries", doc);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(stagingColumns("items_queries")).toEqual([
      "id",
      "item_text",
      "embedding",
      "item_type",
      "metadata",
      "created_at",
    ]);
    expect(m.fields[3]?.toString()).toBe(d.metadata.theme);
    expect(JSON.parse(m.fields[4]!.subarray(1).toString())).toEqual(d.metadata);
    expect(m.fields[5]).toEqual(timestampField(String(d.metadata.timestamp)));
    expect([m.hasVector, m.derivedId]).toEqual([true, false]);
  });

  it("refuses what a NOT NULL column or the vector type cannot take, saying why", () => {
    expect(chromaRow("items_metrics", doc)).toMatchObject({
      ok: false,
      reason: /no "metric_type"/,
    });
    expect(chromaRow("llm_outputs", doc)).toMatchObject({ ok: false, reason: /no "model_id"/ });
    expect(chromaRow("items_queries", { ...doc, document: undefined })).toMatchObject({
      ok: false,
      reason: "no document text",
    });
    expect(chromaRow("items_queries", { ...doc, vector: Buffer.alloc(8) })).toMatchObject({
      ok: false,
      reason: /2 dimensions: expected 384/,
    });
    expect(chromaRow("items_queries", { ...doc, encoding: "INT32" })).toMatchObject({ ok: false });
  });

  it("a non-UUID id gets the derived UUID and keeps the original in metadata.chroma_id", () => {
    const m = chromaRow("items_queries", { ...doc, id: "abc" });
    expect(m).toMatchObject({ ok: true, id: derivedUuid("abc"), derivedId: true });
    if (m.ok) expect(JSON.parse(m.fields[4]!.subarray(1).toString()).chroma_id).toBe("abc");
  });
});

describe("a collection as one COPY stream", () => {
  const [a, b] = docs("queries", 2);
  const asDoc = (d: typeof a): ChromaDocument => ({
    id: d.id,
    document: d.text,
    metadata: d.metadata,
    vector: floatBlob(d.vector),
    encoding: "FLOAT32",
  });
  const now = timestampField("2026-12-02T01:00:00.000001");
  const stream = (documents: ChromaDocument[]) => {
    const tally = newTally();
    const progress: Array<[number, number]> = [];
    const args: StreamArgs = {
      target: "items_queries",
      docs: documents,
      total: documents.length,
      cols: stagingColumns("items_queries"),
      now,
      progress: (done, total) => progress.push([done, total]),
    };
    return { tally, progress, bytes: Buffer.concat([...copyStream(args, tally)]) };
  };
  const fieldsOf = (d: ChromaDocument) => {
    const m = chromaRow("items_queries", d);
    if (!m.ok) throw new Error(m.reason);
    return m.fields;
  };
  // id (all zeros), text, no vector, item_type, no metadata, created_at: NOT NULL columns filled.
  const sentinel = copyRow([
    Buffer.alloc(16),
    Buffer.alloc(0),
    undefined,
    Buffer.alloc(0),
    undefined,
    now,
  ]);

  it("header, a row per document (no timestamp: this run's time), the sentinel, the trailer", () => {
    const untimed = { ...asDoc(b), metadata: { theme: "t" } };
    const { tally, progress, bytes } = stream([asDoc(a), untimed]);
    const rows = [fieldsOf(asDoc(a)), [...fieldsOf(untimed).slice(0, -1), now]].map(copyRow);
    expect(bytes).toEqual(Buffer.concat([copyHeader(), ...rows, sentinel, copyTrailer()]));
    expect(tally).toMatchObject({ read: 2, staged: 2, unusable: 0, withoutVector: 0 });
    expect(tally.samples[0]).toMatchObject({ id: a.id, text: a.text });
    expect(progress.at(-1)).toEqual([2, 2]);
  });

  it("a second document under a taken id and one without text are left out, each named", () => {
    const { tally, bytes } = stream([asDoc(a), asDoc(a), { ...asDoc(b), document: undefined }]);
    expect(bytes).toEqual(
      Buffer.concat([copyHeader(), copyRow(fieldsOf(asDoc(a))), sentinel, copyTrailer()]),
    );
    expect(tally).toMatchObject({ read: 3, staged: 1, unusable: 2 });
    expect(tally.unusableIds).toEqual([
      { id: a.id, reason: `id ${a.id} already taken by another document of the collection` },
      { id: b.id, reason: "no document text" },
    ]);
  });
});

describe("the report's verdict", () => {
  const clean: SourceReport = {
    source: "table queries",
    target: "items_queries",
    status: "migrated",
    read: 10,
    inserted: 6,
    alreadyPresent: 4,
    unusable: 0,
    unusableIds: [],
    withoutVector: 1,
    derivedIds: 0,
    seconds: 1,
    verification: {
      sampled: 5,
      equal: 5,
      differing: [],
      missing: 0,
      similarity: { id: "a", found: true, k: 5 },
    },
  };

  it("a complete, checked source has no problem (rows without a vector are counted, not a failure)", () => {
    expect(problemsOf([clean])).toEqual([]);
  });

  it("names counts that do not add up, damage, unusable documents and every failed check", () => {
    const bad = problemsOf([
      { ...clean, inserted: 5 },
      { ...clean, status: "damaged", error: 'could not open file "base/1/2"' },
      { ...clean, read: 11, unusable: 1, unusableIds: [{ id: "x", reason: "no document text" }] },
      { ...clean, verification: { ...clean.verification!, equal: 4, differing: ["b"] } },
      { ...clean, verification: { ...clean.verification!, missing: 2 } },
      {
        ...clean,
        verification: { ...clean.verification!, similarity: { id: "a", found: false, k: 5 } },
      },
    ]);
    expect(bad).toEqual([
      expect.stringMatching(/10 read but 5 inserted \+ 4 already present \+ 0 unusable/),
      expect.stringMatching(/damaged, skipped: could not open file "base\/1\/2"/),
      expect.stringMatching(/1 document\(s\) not copied: x \(no document text\)/),
      expect.stringMatching(/sampled rows differ in the target: b/),
      expect.stringMatching(/2 source row\(s\) not in the target/),
      expect.stringMatching(/similarity query .* did not find it/),
    ]);
  });
});
