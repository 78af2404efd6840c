import * as fs from "fs";
import * as path from "path";
import { PROJECT } from "./config/naming";
import { ConfigError, Settings } from "./config/settings";

/*
 * A Postgres server refuses a data directory of another major ("database files
 * are incompatible with server"), and the container then restarts forever. In
 * bind mode the directory is on this machine, so the program can read its
 * PG_VERSION before it registers anything. A remote Docker host's directories
 * are not readable from here: `npm run doctor` checks those (and volumes).
 */

/**
 * The PG_VERSION file's major ("15"), or undefined when there is no cluster yet.
 * Throws when the file cannot be read (a cluster directory is mode 0700, owned by
 * the server's user).
 */
export function readPgVersion(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, "PG_VERSION"), "utf8").trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** True when Docker runs on this machine (no host, or a local socket). */
export function dockerIsLocal(dockerHost: string | undefined): boolean {
  return dockerHost === undefined || dockerHost === "" || /^(unix|npipe):\/\//.test(dockerHost);
}

/** The sentence naming both majors, shared with doctor. */
export function pgVersionMismatch(opts: {
  readonly stack: string;
  readonly dataDir: string;
  readonly found: string;
  readonly major: number;
  readonly image?: string;
}): string {
  return (
    `the Postgres data directory ${opts.dataDir} holds a Postgres ${opts.found} cluster ` +
    `(PG_VERSION = ${opts.found}), but ${opts.image ? `the image ${opts.image} runs` : "the stack runs"} ` +
    `Postgres ${opts.major}: that server refuses the directory. Keep a Postgres ${opts.found} image ` +
    `(${PROJECT}:services.postgres.image), or move the data to the new major with ` +
    `npm run pg-upgrade -- --stack ${opts.stack} --to ${opts.major}`
  );
}

/**
 * Refuses a local bind-mode stack whose Postgres data directory was made by
 * another major than the image's. Throws a ConfigError (nothing is registered).
 * Returns a warning when the directory exists but cannot be read by this user.
 */
export function assertPgVersionMatches(
  settings: Settings,
  opts: { readonly dockerHost?: string; readonly read?: (dir: string) => string | undefined },
): string | undefined {
  if (settings.environment !== "local" || settings.storageMode !== "bind") return undefined;
  if (!dockerIsLocal(opts.dockerHost)) return undefined;
  const pg = settings.services.find((s) => s.kind === "postgres");
  const dir = pg?.dataSet?.hostPath;
  const major = settings.postgres.major;
  if (pg === undefined || dir === undefined || major === undefined) return undefined;
  let found: string | undefined;
  try {
    found = (opts.read ?? readPgVersion)(dir);
  } catch (e) {
    return (
      `cannot read ${path.join(dir, "PG_VERSION")} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}) ` +
      `to compare it with Postgres ${major}: run npm run doctor -- --stack ${settings.stack}, which reads it through the engine`
    );
  }
  if (found === undefined || found === String(major)) return undefined;
  throw new ConfigError(settings.stack, [
    pgVersionMismatch({ stack: settings.stack, dataDir: dir, found, major, image: pg.image }),
  ]);
}
