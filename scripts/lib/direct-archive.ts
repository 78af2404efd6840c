import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { DockerError, docker, DataMount, helperRunArgs } from "./docker";
import { fsyncDir, PARTIAL_SUFFIX, WrittenFile } from "./archive";
import { LINK_OWNERS_SCRIPT, parseLinkOwners } from "./link-owners";
import { ProgressBoard } from "./progress";

/*
 * An archive written at disk speed: tar runs inside the helper container and
 * writes straight into the bind-mounted backup directory (no stream through the
 * Docker daemon and this process), while this process hashes the growing
 * `.partial` file from the page cache as it is written. The file is then fsynced
 * and renamed, as before: a crash still leaves only a `.partial` file.
 *
 * It needs the backup directory on the engine's own filesystem. The container
 * first checks for a probe file this process created there; when the engine is
 * remote (or the directory is not shared with it), the caller falls back to
 * streaming the archive (`writeStreamed`).
 */

/** Exit code of the container when the probe file is not visible: the directory is not shared. */
const NOT_SHARED = 97;

/** The container's script: probe, archive, hand the file to the caller's user, then list link owners on stdout. */
const SCRIPT = [
  "set -eu",
  `[ -e "/out/$1" ] || exit ${NOT_SHARED}`,
  // Gone before the archive starts: even a killed backup leaves only its .partial file.
  'rm -f "/out/$1"',
  'tar -c -f "/out/$2" -C /data .',
  'chown "$3" "/out/$2"',
  LINK_OWNERS_SCRIPT,
].join("\n");

export interface DirectArchive {
  readonly w: WrittenFile;
  readonly links: Array<[string, string]>;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Hashes `file` while another process appends to it, until `done` settles and
 * the end of the file is reached. Returns the sha256 and the size.
 */
async function followHash(
  file: string,
  done: Promise<unknown>,
  onBytes: (n: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!fs.existsSync(file)) {
    if (finished) throw new Error(`${file} was never written`);
    await sleep(5);
  }
  const hash = createHash("sha256");
  const fh = await fs.promises.open(file, "r");
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  try {
    for (;;) {
      const wasFinished = finished;
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
        onBytes(pos);
        continue;
      }
      // End of file after the writer had exited: everything is read.
      if (wasFinished) break;
      await sleep(2);
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest("hex"), bytes: pos };
}

/**
 * Archives one data set into `<outDir>/<file>` from inside the helper container.
 * Returns "not-shared" (and leaves nothing behind) when the engine cannot see
 * `outDir`.
 */
export async function archiveDirect(opts: {
  readonly outDir: string;
  readonly file: string;
  readonly label: string;
  readonly image: string;
  readonly mount: DataMount;
  readonly board: ProgressBoard;
}): Promise<DirectArchive | "not-shared"> {
  const { outDir, file } = opts;
  if (/[,"\n]/.test(outDir)) return "not-shared";
  const partialName = `${file}${PARTIAL_SUFFIX}`;
  const partial = path.join(outDir, partialName);
  const final = path.join(outDir, file);
  if (fs.existsSync(partial) || fs.existsSync(final)) {
    throw new Error(`${partial} or ${final} already exists: expected a new file`);
  }
  const probeName = `.probe-${randomBytes(4).toString("hex")}${PARTIAL_SUFFIX}`;
  const probe = path.join(outDir, probeName);
  fs.writeFileSync(probe, "", { flag: "wx" });
  const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const args = helperRunArgs({
    image: opts.image,
    mount: opts.mount,
    readOnly: true,
    purpose: "backup",
    extraMounts: [`type=bind,src=${outDir},dst=/out`],
    command: ["sh", "-c", SCRIPT, "sh", probeName, partialName, owner],
  });
  const started = Date.now();
  const task = opts.board.start(opts.label);
  const run = docker(args, { allowFail: true });
  try {
    const hashing = followHash(partial, run, (n) => task.update(n));
    const r = await run;
    if (r.code === NOT_SHARED || (r.code === 125 && /bind source path/i.test(r.stderr))) {
      await hashing.catch(() => undefined);
      fs.rmSync(partial, { force: true });
      task.end();
      return "not-shared";
    }
    if (r.code !== 0) {
      await hashing.catch(() => undefined);
      throw new DockerError(args, r.code, r.stderr);
    }
    const { sha256, bytes } = await hashing;
    const fd = fs.openSync(partial, "r+");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, final);
    fsyncDir(outDir);
    task.end();
    return {
      w: { file, bytes, sha256, seconds: (Date.now() - started) / 1000 },
      links: parseLinkOwners(r.stdout),
    };
  } catch (e) {
    task.end();
    fs.rmSync(partial, { force: true });
    throw e;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}
