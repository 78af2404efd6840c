import fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FixtureDoc, floatBlob, writeChroma } from "../scripts/bench/chroma-fixture";
import {
  ChromaDocument,
  listCollections,
  openChroma,
  readDocuments,
} from "../scripts/lib/migrate/chroma";
import { copyStream, newTally, Tally } from "../scripts/lib/migrate/collection-stream";
import { readerChunks, ThreadArgs } from "../scripts/lib/migrate/collection-thread";
import { copyRow, CopyWriter, timestampField } from "../scripts/lib/migrate/copy-binary";
import { stagingColumns } from "../scripts/lib/migrate/targets";
import { docs } from "./support/migrate-docs";

/*
 * A collection's COPY stream as migrate-data sends it: built on the reader thread
 * (collection-worker.ts, compiled here by sucrase's hook as under npm run), with the
 * ids the target already holds left out, written row after row into one buffer per
 * chunk, with timestamps computed without BigInt. Each against the reference it must
 * equal, and each refusal with the input that triggers it.
 */

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migrate-stream-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const now = timestampField("2026-12-08T01:00:00.000001");
const cols = stagingColumns("items_queries");

function fixture(name: string, list: FixtureDoc[]): string {
  const file = path.join(TMP, `${name}.sqlite3`);
  writeChroma(file, [{ name: "queries", docs: list }]);
  return file;
}

/** The stream built on this thread, the reference the reader thread must equal. */
function inThread(file: string, skip: ReadonlySet<string> = new Set()) {
  const db = openChroma(file);
  try {
    const [collection] = listCollections(db);
    const { total, docs: all } = readDocuments(db, collection);
    const tally = newTally();
    const args = {
      target: "items_queries" as const,
      docs: all,
      total,
      cols,
      now,
      skip,
      progress: () => {},
    };
    const bytes = Buffer.concat([...copyStream(args, tally)]);
    return { bytes, tally, collection };
  } finally {
    db.close();
  }
}

/** The reader's arguments for the items table, with no present ids and no progress. */
function readerArgs(file: string, collection: ThreadArgs["collection"]): ThreadArgs {
  return {
    file,
    collection,
    target: "items_queries",
    cols,
    now,
    skip: new Set(),
    progress: () => {},
  };
}

async function onReader(a: Partial<ThreadArgs> & Pick<ThreadArgs, "file" | "collection">) {
  const tally = newTally();
  const progress: Array<[number, number]> = [];
  const chunks: Buffer[] = [];
  for await (const c of readerChunks(
    {
      ...readerArgs(a.file, a.collection),
      progress: (done, total) => progress.push([done, total]),
      ...a,
    },
    tally,
  )) {
    chunks.push(c);
  }
  return { bytes: Buffer.concat(chunks), tally, progress, chunks: chunks.length };
}

describe("the reader thread", () => {
  // Enough documents for several chunks (about 1.7 KB a row, 256 KB a chunk).
  const list = docs("queries", 600);
  const file = fixture("many", list);

  it("streams exactly the bytes copyStream builds, in several chunks, and hands back its tally", async () => {
    const ref = inThread(file);
    const got = await onReader({ file, collection: ref.collection });
    expect(got.chunks).toBeGreaterThan(2);
    expect(got.bytes.equals(ref.bytes)).toBe(true);
    expect(got.tally).toEqual(ref.tally);
    expect(got.tally).toMatchObject({ read: 600, staged: 600, alreadyPresent: 0 });
    expect(got.progress.at(-1)).toEqual([600, 600]);
  });

  it("leaves out the ids the target holds, counts them as already present, and still samples them", async () => {
    const all = inThread(file);
    // The sampled documents (in stream order) are the ones the target holds.
    const present = new Set(all.tally.samples.map((x) => x.id));
    const ref = inThread(file, present);
    const got = await onReader({ file, collection: ref.collection, skip: present });
    expect(got.bytes.equals(ref.bytes)).toBe(true);
    expect(got.tally).toMatchObject({
      read: 600,
      staged: 600 - present.size,
      alreadyPresent: present.size,
    });
    expect(got.tally.samples.map((x) => x.id)).toEqual([...present]);
    // Its twin: without the set, those rows are in the stream.
    const idBytes = Buffer.from([...present][0].replace(/-/g, ""), "hex");
    expect(all.bytes.includes(idBytes)).toBe(true);
    expect(got.bytes.includes(idBytes)).toBe(false);
    expect(got.bytes.length).toBeLessThan(all.bytes.length);
  });

  it("a store the reader cannot open: the stream throws the reader's own error, and no chunk came", async () => {
    const ref = inThread(file);
    const broken = path.join(TMP, "not-sqlite.sqlite3");
    fs.writeFileSync(broken, "this is not a database, it is text ".repeat(200));
    const chunks: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of readerChunks(readerArgs(broken, ref.collection), newTally()))
          chunks.push(c);
      })(),
    ).rejects.toThrow(/file is not a database/);
    expect(chunks).toEqual([]);
  });

  it("a consumer that stops early ends the thread (the generator's return), without waiting for the rest", async () => {
    const ref = inThread(file);
    const tally: Tally = newTally();
    const gen = readerChunks(readerArgs(file, ref.collection), tally);
    const first = await gen.next();
    expect(first.done).toBe(false);
    await gen.return(undefined);
    expect((await gen.next()).done).toBe(true);
    // The tally stays as it was: the reader never said it was done.
    expect(tally.read).toBe(0);
  });
});

describe("skipping present ids in copyStream", () => {
  const [a, b] = docs("queries", 2);
  const asDoc = (d: typeof a): ChromaDocument => ({
    id: d.id.toUpperCase(),
    document: d.text,
    metadata: d.metadata,
    vector: floatBlob(d.vector),
    encoding: "FLOAT32",
  });
  const run = (skip?: ReadonlySet<string>) => {
    const tally = newTally();
    const list = [asDoc(a), asDoc(b)];
    const args = {
      target: "items_queries" as const,
      docs: list,
      total: 2,
      cols,
      now,
      skip,
      progress: () => {},
    };
    return { bytes: Buffer.concat([...copyStream(args, tally)]), tally };
  };

  it("matches the id as Postgres prints it (lower case), whatever case ChromaDB kept", () => {
    const { tally } = run(new Set([a.id.toLowerCase()]));
    expect(tally).toMatchObject({ read: 2, staged: 1, alreadyPresent: 1 });
  });

  it("its twin: an id the target does not hold is sent", () => {
    const { tally } = run(new Set(["00000000-0000-0000-0000-0000000000aa"]));
    expect(tally).toMatchObject({ read: 2, staged: 2, alreadyPresent: 0 });
  });
});

describe("CopyWriter", () => {
  it("writes tuples as copyRow does, grows past its capacity, and hands each chunk its own memory", () => {
    const rows = [
      [Buffer.from("a"), undefined, Buffer.alloc(3000, 7)],
      [Buffer.alloc(0), Buffer.from("xyz")],
      [undefined],
    ];
    const w = new CopyWriter(16);
    for (const r of rows) w.row(r);
    const out = w.take();
    expect(out.equals(Buffer.concat(rows.map(copyRow)))).toBe(true);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer).not.toBe(Buffer.allocUnsafe(8).buffer); // not Node's shared pool
    expect(w.size).toBe(0);
    w.row(rows[1]);
    const next = w.take();
    expect(next.equals(copyRow(rows[1]))).toBe(true);
    expect(next.buffer).not.toBe(out.buffer);
  });
});

describe("timestampField without BigInt", () => {
  /** The reference: microseconds since 2000-01-01 with BigInt throughout. */
  const reference = (
    y: number,
    mo: number,
    d: number,
    h: number,
    mi: number,
    s: number,
    us: number,
  ) => {
    const ms = BigInt(Date.UTC(y, mo - 1, d, h, mi, s));
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(ms * 1000n + BigInt(us) - 946_684_800_000_000n);
    return b;
  };
  const pad = (n: number, w: number) => String(n).padStart(w, "0");

  it("equals the BigInt computation for any time from year 1000 to 9999, near the epoch and far from it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 999_999 }),
        (y, mo, d, h, mi, s, us) => {
          const iso = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(us, 6)}`;
          expect(timestampField(iso)).toEqual(reference(y, mo, d, h, mi, s, us));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("the edges: the epoch, one microsecond either side, the last exact millisecond and past it", () => {
    expect(timestampField("2000-01-01T00:00:00")?.readBigInt64BE()).toBe(0n);
    expect(timestampField("1999-12-31T23:59:59.999999")?.readBigInt64BE()).toBe(-1n);
    expect(timestampField("2000-01-01T00:00:00.000001")?.readBigInt64BE()).toBe(1n);
    expect(timestampField("2285-06-01T00:00:00.123456")).toEqual(
      reference(2285, 6, 1, 0, 0, 0, 123456),
    );
    expect(timestampField("9999-12-31T23:59:59.999999")).toEqual(
      reference(9999, 12, 31, 23, 59, 59, 999999),
    );
  });
});

describe("into a table that exists, psql stops before the list of ids it holds is complete", () => {
  // A docker CLI that answers the existence check, then prints part of the id list and
  // fails (as a lock or a damaged table would) without reading the COPY input.
  const fake = path.join(TMP, "docker-fake");
  fs.writeFileSync(
    fake,
    [
      "#!/bin/sh",
      'case "$*" in',
      "  *to_regclass*) echo t; exit 0 ;;",
      '  *) echo "present|00000000-0000-0000-0000-0000000000aa";',
      '     echo "psql: ERROR:  canceling statement due to lock timeout" >&2; exit 3 ;;',
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );

  it("the source fails with psql's error, promptly: the input that waited for the list is ended", async () => {
    const list = docs("queries", 3);
    const file = fixture("lock", list);
    const [collection] = (() => {
      const db = openChroma(file);
      try {
        return listCollections(db);
      } finally {
        db.close();
      }
    })();
    const saved = process.env.PANOPTICON_DOCKER;
    process.env.PANOPTICON_DOCKER = fake;
    try {
      let migrate!: typeof import("../scripts/lib/migrate/collection").migrateCollection;
      jest.isolateModules(() => {
        migrate = (
          require("../scripts/lib/migrate/collection") as typeof import("../scripts/lib/migrate/collection")
        ).migrateCollection;
      });
      const pg = { container: "pg", user: "postgres", database: "panopticon" };
      const r = await migrate(
        pg,
        { label: "l", file, collection, target: "items_queries" },
        () => {},
      );
      expect(r).toMatchObject({ status: "failed", inserted: 0, read: 0 });
      expect(r.error).toMatch(/lock timeout/);
    } finally {
      if (saved === undefined) delete process.env.PANOPTICON_DOCKER;
      else process.env.PANOPTICON_DOCKER = saved;
    }
  }, 15_000);
});
