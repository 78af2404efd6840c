import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Transform, TransformCallback, Writable } from "stream";
import { pipeline } from "stream/promises";

/*
 * Files of a backup are written as `<name>.partial`, hashed while they stream,
 * fsynced and only then renamed to their final name: a crash leaves a `.partial`
 * file, never a truncated file under a final name.
 */

export const PARTIAL_SUFFIX = ".partial";

/** "1.5 MiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Counts bytes and prints "<label>: 12.0 MiB (30.1 MiB/s)" to stderr at most every `everyMs`. */
export class Progress extends Transform {
  bytes = 0;
  private readonly started = Date.now();
  private lastPrint = Date.now();

  constructor(
    private readonly label: string,
    private readonly everyMs = 2000,
    private readonly out: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const now = Date.now();
    if (now - this.lastPrint >= this.everyMs) {
      this.lastPrint = now;
      this.out(`  ${this.label}: ${formatBytes(this.bytes)} (${this.rate()})`);
    }
    cb(null, chunk);
  }

  seconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  rate(): string {
    const s = Math.max(this.seconds(), 0.001);
    return `${formatBytes(Math.round(this.bytes / s))}/s`;
  }
}

/** Passes bytes through and keeps their sha256. */
export class Hasher extends Transform {
  private readonly hash = createHash("sha256");
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  hex(): string {
    return this.hash.digest("hex");
  }
}

export interface WrittenFile {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

function fsyncPath(p: string, flags: string): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename or new file in `dir` durable. */
export function fsyncDir(dir: string): void {
  fsyncPath(dir, "r");
}

/**
 * Writes what `produce` pushes into the given writable to `<dir>/<file>`, through
 * `.partial` + sha256 + fsync + rename. On any failure the `.partial` file is removed
 * and the final name never appears.
 */
export async function writeStreamed(
  dir: string,
  file: string,
  label: string,
  produce: (sink: Writable) => Promise<void>,
): Promise<WrittenFile> {
  const final = path.join(dir, file);
  const partial = final + PARTIAL_SUFFIX;
  const hasher = new Hasher();
  const progress = new Progress(label);
  const out = fs.createWriteStream(partial, { flags: "wx" });
  // The producer writes into `progress`; the chain ends in the file.
  const done = pipeline(progress, hasher, out);
  try {
    await Promise.all([produce(progress), done]);
    fsyncPath(partial, "r+");
    fs.renameSync(partial, final);
    fsyncDir(dir);
  } catch (e) {
    progress.destroy();
    await done.catch(() => undefined);
    fs.rmSync(partial, { force: true });
    throw e;
  }
  return { file, bytes: progress.bytes, sha256: hasher.hex(), seconds: progress.seconds() };
}

/** sha256 and size of a file, read as a stream (archives can be large). */
export async function hashFile(
  p: string,
  label?: string,
): Promise<{ sha256: string; bytes: number }> {
  const hasher = new Hasher();
  const progress = new Progress(label ?? path.basename(p));
  await pipeline(
    fs.createReadStream(p),
    progress,
    hasher,
    new Writable({ write: (_c, _e, cb) => cb() }),
  );
  return { sha256: hasher.hex(), bytes: progress.bytes };
}

/** Writes a small file atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(p: string, content: string): void {
  const tmp = `${p}${PARTIAL_SUFFIX}`;
  fs.writeFileSync(tmp, content, { flag: "w" });
  fsyncPath(tmp, "r+");
  fs.renameSync(tmp, p);
  fsyncDir(path.dirname(p));
}
