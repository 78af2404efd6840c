import * as fs from "fs";
import * as path from "path";
import { Worker } from "worker_threads";
import type { Collection } from "./chroma";
import type { Tally } from "./collection-stream";
import type { ReaderInput, ReaderMessage } from "./collection-worker";
import type { TargetTable } from "./targets";

/*
 * The main thread's side of a collection's COPY stream: starts the reader thread
 * (collection-worker.ts), hands its chunks on as they come and gives back each one
 * it took, so the reader stays at most IN_FLIGHT chunks ahead. When the stream
 * ends, the reader's tally is copied into the caller's.
 */

const READER = path.join(__dirname, "collection-worker");

/**
 * The reader thread. Compiled, it is collection-worker.js beside this code (the ECS
 * task's bundle puts it beside migrate-data.js); from source (npm run, jest), the
 * thread compiles collection-worker.ts with sucrase's hook, which the program itself
 * is loaded with (Pulumi.yaml).
 */
function startReader(workerData: ReaderInput): Worker {
  if (fs.existsSync(`${READER}.js`)) return new Worker(`${READER}.js`, { workerData });
  const hook = require.resolve("sucrase/register/ts");
  const boot = `require(${JSON.stringify(hook)}); require(${JSON.stringify(`${READER}.ts`)});`;
  return new Worker(boot, { eval: true, workerData });
}

export interface ThreadArgs {
  readonly file: string;
  readonly collection: Collection;
  readonly target: TargetTable;
  readonly cols: readonly string[];
  readonly now: Buffer | undefined;
  /** Ids the target already holds: counted as already present, not sent. */
  readonly skip: ReadonlySet<string>;
  readonly progress: (done: number, total: number) => void;
}

/**
 * The COPY input built on the reader thread, chunk by chunk. Throws what the reader
 * threw (the stream then ends without its sentinel, and the transaction rolls back).
 * Leaving early (psql stopped reading) ends the thread.
 */
export async function* readerChunks(a: ThreadArgs, tally: Tally): AsyncGenerator<Buffer> {
  const flow = new SharedArrayBuffer(4);
  const taken = new Int32Array(flow);
  const worker = startReader({
    kind: "collection-stream",
    file: a.file,
    collection: a.collection,
    target: a.target,
    cols: a.cols,
    now: a.now,
    skip: [...a.skip],
    flow,
  });
  const inbox = new Inbox(worker);
  try {
    for (;;) {
      const m = await inbox.next();
      if (m.kind === "done") {
        Object.assign(tally, m.tally);
        a.progress(tally.read, m.total);
        return;
      }
      Atomics.sub(taken, 0, 1);
      Atomics.notify(taken, 0);
      a.progress(m.read, m.total);
      yield Buffer.from(m.bytes, 0, m.length);
    }
  } finally {
    await worker.terminate();
  }
}

/** The reader's messages in order; its error, or its end before "done", as a throw. */
class Inbox {
  private readonly queue: ReaderMessage[] = [];
  private failure: Error | undefined;
  private exited = false;
  private wake: (() => void) | undefined;

  constructor(worker: Worker) {
    const wake = () => this.wake?.();
    worker.on("message", (m: ReaderMessage) => {
      this.queue.push(m);
      wake();
    });
    worker.on("error", (e: Error) => {
      this.failure = e;
      wake();
    });
    worker.on("exit", () => {
      this.exited = true;
      wake();
    });
  }

  async next(): Promise<ReaderMessage> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) return m;
      if (this.failure !== undefined) throw this.failure;
      if (this.exited) throw new Error("the ChromaDB reader thread stopped before the end");
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
