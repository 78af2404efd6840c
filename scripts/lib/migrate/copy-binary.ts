import { createHash } from "crypto";

/*
 * Postgres's binary COPY format, written by hand: a migration streams 100,000
 * vectors into `COPY ... FROM STDIN (FORMAT binary)`, where each vector is its 1,536
 * bytes instead of ~6 KB of decimal text, and the floats reach the table exactly as
 * ChromaDB stored them (no decimal round trip).
 * Layout (Postgres docs, "COPY", binary format): 11-byte signature, int32 flags,
 * int32 header-extension length; per tuple an int16 field count, then per field an
 * int32 length (-1 for NULL) and the type's binary send form; an int16 -1 trailer.
 */

export const COPY_SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

export function copyHeader(): Buffer {
  return Buffer.concat([COPY_SIGNATURE, Buffer.alloc(8)]);
}

export function copyTrailer(): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(-1);
  return b;
}

/** One tuple; `undefined` fields are NULL. */
export function copyRow(fields: ReadonlyArray<Buffer | undefined>): Buffer {
  const w = new CopyWriter(rowSize(fields));
  w.row(fields);
  return w.take();
}

function rowSize(fields: ReadonlyArray<Buffer | undefined>): number {
  let size = 2;
  for (const f of fields) size += 4 + (f === undefined ? 0 : f.length);
  return size;
}

/**
 * Tuples written one after another into one buffer, which `take` hands out whole
 * (its own memory, never Node's shared pool) before starting the next: a stream of
 * 100,000 rows allocates a buffer per chunk instead of one per row and a concatenation.
 */
export class CopyWriter {
  private buf: Buffer;
  private at = 0;

  constructor(private readonly capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  get size(): number {
    return this.at;
  }

  /** Appends bytes as they are (the header, the trailer). */
  raw(b: Buffer): void {
    this.room(b.length);
    this.at += b.copy(this.buf, this.at);
  }

  row(fields: ReadonlyArray<Buffer | undefined>): void {
    this.room(rowSize(fields));
    const buf = this.buf;
    let at = buf.writeInt16BE(fields.length, this.at);
    for (const f of fields) {
      at = buf.writeInt32BE(f === undefined ? -1 : f.length, at);
      if (f !== undefined) at += f.copy(buf, at);
    }
    this.at = at;
  }

  /** What was written, in a buffer of its own; the writer starts empty again. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.at);
    this.buf = Buffer.allocUnsafeSlow(this.capacity);
    this.at = 0;
    return out;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string) => UUID.test(s);

/** uuid send form: the 16 bytes. */
export function uuidField(id: string): Buffer {
  if (!isUuid(id)) throw new Error(`not a UUID: ${JSON.stringify(id)}`);
  return Buffer.from(id.replace(/-/g, ""), "hex");
}

/**
 * A UUID for a ChromaDB id that is not one (the judge kept provider completion ids):
 * name-based (RFC 4122 version 5) over the id, so every run derives the same one and
 * the copy stays idempotent.
 */
export const DERIVED_ID_NAMESPACE = "5c1d7b0e-3f5a-4d8e-9b21-7a0c6e4f2d19";

export function derivedUuid(id: string): string {
  const h = createHash("sha1").update(uuidField(DERIVED_ID_NAMESPACE)).update(id, "utf8").digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export const textField = (s: string) => Buffer.from(s, "utf8");

/** jsonb send form: version byte 1, then the JSON text. */
export function jsonbField(json: string): Buffer {
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(json, "utf8"));
  out[0] = 1;
  out.write(json, 1, "utf8");
  return out;
}

/**
 * pgvector's send form (vector_send): int16 dimensions, int16 unused, then each
 * float4 big-endian. `le` is ChromaDB's FLOAT32 blob: the same floats little-endian.
 */
export function vectorField(le: Uint8Array, dimensions: number): Buffer {
  if (le.length !== dimensions * 4) {
    throw new Error(
      `vector of ${le.length} bytes: expected ${dimensions} float32 (${dimensions * 4} bytes)`,
    );
  }
  const out = Buffer.allocUnsafe(4 + le.length);
  out.writeInt16BE(dimensions, 0);
  out.writeInt16BE(0, 2);
  Buffer.from(le.buffer, le.byteOffset, le.length).copy(out, 4);
  out.subarray(4).swap32();
  return out;
}

/** The floats of a FLOAT32 little-endian blob. */
export function decodeFloat32(le: Uint8Array): number[] {
  if (le.length % 4 !== 0) throw new Error(`vector of ${le.length} bytes: not whole float32s`);
  const b = Buffer.from(le.buffer, le.byteOffset, le.length);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(b.readFloatLE(i));
  return out;
}

/**
 * pgvector's text form, e.g. `[0.5,-1]`. Each float32 widened to a double prints a
 * decimal that parses back (strtof) to the same float32.
 */
export const vectorLiteral = (floats: readonly number[]) => `[${floats.join(",")}]`;

/** Milliseconds from 1970-01-01 to 2000-01-01 (Postgres's epoch). */
const PG_EPOCH_MS = 946_684_800_000;

/** Within this many ms of 2000-01-01 (about 285 years), the microseconds are below 2^53. */
const EXACT_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000) - 1000;

/**
 * `timestamp` send form from an ISO time as Python's datetime.isoformat() writes it
 * (`2025-05-01T12:34:56.123456`, naive = UTC, as utcnow() gives): int64 microseconds
 * since 2000-01-01. Undefined when the text is not such a time. Plain numbers carry
 * the microseconds exactly within EXACT_MS of the epoch, where every stored time is:
 * no BigInt per row (it ran 100,000 times a collection); BigInt beyond.
 */
export function timestampField(iso: string): Buffer | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]00:?00)?$/.exec(iso);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - PG_EPOCH_MS;
  if (Number.isNaN(ms)) return undefined;
  const micros = Number((m[7] ?? "").padEnd(6, "0") || "0");
  const b = Buffer.allocUnsafe(8);
  if (Math.abs(ms) > EXACT_MS) {
    b.writeBigInt64BE(BigInt(ms) * 1000n + BigInt(micros));
    return b;
  }
  const us = ms * 1000 + micros;
  const high = Math.floor(us / 2 ** 32);
  b.writeInt32BE(high, 0);
  b.writeUInt32BE(us - high * 2 ** 32, 4);
  return b;
}
