import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { PARTIAL_SUFFIX } from "./archive";
import { RefusedError } from "./exit-codes";

/*
 * manifest.json is the last file a backup writes (atomically). Its presence is
 * what makes a backup directory complete; restore trusts nothing without it and
 * checks every file against the sha256 it records.
 */

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "panopticon-backup/1";

const sha256 = z.string().regex(/^[a-f0-9]{64}$/, "expected a sha256 hex digest");
/** File names inside the backup directory: no path separators, no `..`. */
const fileName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "expected a plain file name in the backup directory");

const imageInfo = z.object({
  service: z.string(),
  /** Image configured in the stack settings. */
  configured: z.string(),
  /** Image the container actually ran, when it existed at backup time. */
  container: z.string().optional(),
  imageId: z.string().optional(),
});

const archiveEntry = z.object({
  kind: z.literal("archive"),
  /** Data-set key (e.g. `judge`). */
  dataSet: z.string().regex(/^[a-z][a-z0-9_]*$/),
  service: z.string(),
  backend: z.enum(["volume", "bind"]),
  /** Volume name or absolute host directory at backup time. */
  source: z.string(),
  file: fileName,
  bytes: z.number().int().nonnegative(),
  sha256,
  /** How writers were kept out while the archive was taken. */
  consistency: z.enum(["container-stopped", "container-not-running", "no-container"]),
  /**
   * Owners of symbolic links not owned by root, as [uid:gid, ./path]: busybox tar
   * does not restore the owner of a link, so restore applies these with chown -h.
   */
  symlinkOwners: z
    .array(z.tuple([z.string().regex(/^\d+:\d+$/), z.string().startsWith("./")]))
    .optional(),
});

const dumpEntry = z.object({
  kind: z.literal("pg_dump"),
  service: z.string(),
  database: z.string(),
  user: z.string(),
  format: z.literal("custom"),
  file: fileName,
  bytes: z.number().int().nonnegative(),
  sha256,
  serverVersion: z.string(),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  project: z.string(),
  stack: z.string(),
  storageMode: z.enum(["volume", "bind"]),
  startedAt: z.iso.datetime(),
  completedAt: z.iso.datetime(),
  helperImage: z.string(),
  engineVersion: z.string(),
  /** One line per decision taken for consistency, as printed during the backup. */
  method: z.array(z.string()),
  images: z.array(imageInfo),
  entries: z.array(z.discriminatedUnion("kind", [archiveEntry, dumpEntry])),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ArchiveEntry = z.infer<typeof archiveEntry>;
export type DumpEntry = z.infer<typeof dumpEntry>;
export type Entry = Manifest["entries"][number];

/** A backup that cannot be restored: a refusal (exit 1), nothing was touched. */
export class BackupInvalidError extends RefusedError {
  override name = "BackupInvalidError";
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`backup ${dir} cannot be restored: ${reason}`);
  }
}

/** Parses and validates manifest text; names the bad fields. */
export function parseManifest(text: string, dir: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BackupInvalidError(
      dir,
      `${MANIFEST_FILE} is not valid JSON (${(e as Error).message})`,
    );
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new BackupInvalidError(
      dir,
      `${MANIFEST_FILE} is not a valid backup manifest (${problems})`,
    );
  }
  const files = r.data.entries.map((e) => e.file);
  const dup = files.find((f, i) => files.indexOf(f) !== i);
  if (dup !== undefined)
    throw new BackupInvalidError(dir, `file ${dup} is listed twice in the manifest`);
  return r.data;
}

/**
 * Reads the manifest of a backup directory. A directory without one is an
 * interrupted backup: it is never treated as complete.
 */
export function readManifest(dir: string): Manifest {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new BackupInvalidError(dir, "expected an existing backup directory");
  }
  const p = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(p)) {
    const partial = fs.readdirSync(dir).filter((f) => f.endsWith(PARTIAL_SUFFIX));
    throw new BackupInvalidError(
      dir,
      `no ${MANIFEST_FILE}: the backup did not complete` +
        (partial.length > 0 ? ` (interrupted while writing ${partial.join(", ")})` : ""),
    );
  }
  return parseManifest(fs.readFileSync(p, "utf8"), dir);
}
