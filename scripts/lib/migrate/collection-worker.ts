import { isMainThread, MessagePort, parentPort, workerData } from "worker_threads";
import { Collection, openChroma, readDocuments } from "./chroma";
import { copyStream, newTally, Tally } from "./collection-stream";
import { TargetTable } from "./targets";

/*
 * The reader thread of a collection's COPY stream (collection-thread.ts starts it and
 * takes what it posts). Reading chroma.sqlite3 and building the COPY rows is about two
 * seconds of CPU per 100,000 documents; done on the main thread, psql and Postgres sat
 * idle while each chunk was built, and the thread sat idle while they drained it. Here
 * the next chunks are built while the last ones travel. The rows are the very bytes
 * copyStream builds: this file only moves them across threads.
 */

/** What the main thread hands the reader (as workerData). */
export interface ReaderInput {
  readonly kind: "collection-stream";
  /** The local copy of chroma.sqlite3. */
  readonly file: string;
  readonly collection: Collection;
  readonly target: TargetTable;
  readonly cols: readonly string[];
  /** created_at of a document without a timestamp (arrives as a Uint8Array). */
  readonly now: Uint8Array | undefined;
  /** Ids the target already holds: counted, not sent. */
  readonly skip: readonly string[];
  /** One Int32: chunks posted and not yet taken by the main thread. */
  readonly flow: SharedArrayBuffer;
}

export type ReaderMessage =
  | {
      readonly kind: "chunk";
      /** The chunk is the first `length` bytes (handed over, not copied). */
      readonly bytes: ArrayBuffer;
      readonly length: number;
      readonly read: number;
      readonly total: number;
    }
  | { readonly kind: "done"; readonly tally: Tally; readonly total: number };

/** Chunks (about 256 KB each) the reader may be ahead of the main thread: bounded memory. */
export const IN_FLIGHT = 16;

function produce(input: ReaderInput, port: MessagePort): void {
  const flow = new Int32Array(input.flow);
  const db = openChroma(input.file);
  try {
    const { total, docs } = readDocuments(db, input.collection);
    const tally = newTally();
    const now = input.now === undefined ? undefined : Buffer.from(input.now);
    const args = { ...input, docs, total, now, skip: new Set(input.skip), progress: () => {} };
    for (const chunk of copyStream(args, tally)) {
      for (let n = Atomics.load(flow, 0); n >= IN_FLIGHT; n = Atomics.load(flow, 0)) {
        Atomics.wait(flow, 0, n);
      }
      Atomics.add(flow, 0, 1);
      const bytes = ownBuffer(chunk);
      const message: ReaderMessage = {
        kind: "chunk",
        bytes,
        length: chunk.length,
        read: tally.read,
        total,
      };
      port.postMessage(message, [bytes]);
    }
    port.postMessage({ kind: "done", tally, total });
  } finally {
    db.close();
  }
}

/**
 * An ArrayBuffer that starts with the chunk's bytes, to hand over without a copy.
 * Node's shared pool (Buffer.poolSize bytes, for small Buffers) must never be handed
 * away, so only a larger buffer is; copyStream's chunks each have one (CopyWriter).
 */
function ownBuffer(b: Buffer): ArrayBuffer {
  const own = b.buffer instanceof ArrayBuffer && b.buffer.byteLength > Buffer.poolSize;
  return own && b.byteOffset === 0 ? b.buffer : (new Uint8Array(b).buffer as ArrayBuffer);
}

if (!isMainThread && (workerData as Partial<ReaderInput> | null)?.kind === "collection-stream") {
  produce(workerData as ReaderInput, parentPort!);
}
