import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Catalogue, catalogueFromCompose } from "../catalogue";
import { PROJECT } from "../naming";
import { parseComposeText, readCompose } from "./read";

/*
 * Where a stack's service layout comes from: the compose file of the checkout it
 * builds from (`panopticon:appSource`), or, on a stack without a checkout (prod),
 * the release promoted into its stack file (`panopticon:release`, written by
 * `npm run promote` from what dev deployed). One reader serves both.
 */

export const COMPOSE_FILE = "docker-compose.yml";

/** What a promoted release carries; dev's `release` output has the same shape. */
export interface Release {
  readonly source?: { readonly commit?: string | null; readonly dirty?: boolean | null };
  /** The checkout's docker-compose.yml as a YAML map, uninterpolated. */
  readonly compose: Record<string, unknown>;
}

export interface LayoutSource {
  /** The compose map, as parsed (uninterpolated). */
  readonly compose: Record<string, unknown>;
  /** For messages: `<checkout>/docker-compose.yml` or `panopticon:release.compose`. */
  readonly origin: string;
  /** The checkout's directory; undefined for a promoted release. */
  readonly checkout?: string;
}

/**
 * The compose map of a checkout. Parsing YAML costs the program's start more than the
 * rest of this file (loading the parser alone is 20 to 50 ms), so the parsed map is
 * kept as JSON under the system's temp directory, keyed by the sha256 of the file's
 * bytes: a changed file is a new key, never a stale hit. A cache that cannot be read or
 * written is skipped.
 */
function readCheckoutCompose(file: string, problems: string[]): unknown {
  const text = fs.readFileSync(file);
  const key = createHash("sha256").update(text).digest("hex");
  const cached = path.join(os.tmpdir(), "panopticon-compose-cache", `${key}.json`);
  try {
    return JSON.parse(fs.readFileSync(cached, "utf8")) as unknown;
  } catch {
    // not cached yet (or unreadable): parse it
  }
  const own: string[] = [];
  const map = parseComposeText(text.toString("utf8"), file, own);
  problems.push(...own);
  if (own.length === 0) {
    try {
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      fs.writeFileSync(`${cached}.${process.pid}`, JSON.stringify(map));
      fs.renameSync(`${cached}.${process.pid}`, cached);
    } catch {
      // a read-only temp directory: parse again next time
    }
  }
  return map;
}

/**
 * The layout of a stack: its release when promoted, else its checkout's compose file.
 * Undefined (with a problem) when it has neither, or the file cannot be read.
 */
export function layoutSource(
  raw: { readonly release?: Release; readonly appSource?: string },
  baseDir: string,
  problems: string[],
): LayoutSource | undefined {
  if (raw.release !== undefined) {
    return { compose: raw.release.compose, origin: `${PROJECT}:release.compose` };
  }
  if (raw.appSource === undefined) {
    problems.push(
      `${PROJECT}:release = (missing): this stack has no Panopticon checkout (${PROJECT}:appSource) and no promoted release: run \`npm run promote -- --from dev --to <this stack>\` (docs/promotion.md), or set ${PROJECT}:appSource to a checkout`,
    );
    return undefined;
  }
  const dir = path.resolve(baseDir, raw.appSource);
  const file = path.join(dir, COMPOSE_FILE);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    const why = !fs.existsSync(dir)
      ? `${dir} does not exist`
      : !fs.statSync(dir).isDirectory()
        ? `${dir} is not a directory`
        : `${dir} has no ${COMPOSE_FILE}`;
    problems.push(
      `${PROJECT}:appSource = ${JSON.stringify(raw.appSource)}: ${why}: expected a Panopticon checkout (git clone https://github.com/rbownes/Argus ${raw.appSource})`,
    );
    return undefined;
  }
  const before = problems.length;
  const map = readCheckoutCompose(file, problems);
  if (problems.length > before) return undefined;
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    problems.push(`${file}: expected a compose file with a services: map`);
    return undefined;
  }
  return { compose: map as Record<string, unknown>, origin: file, checkout: dir };
}

/** The catalogue of a stack (compose read, policy applied), or undefined with problems. */
export function loadCatalogue(
  raw: { readonly release?: Release; readonly appSource?: string },
  baseDir: string,
  problems: string[],
): { catalogue: Catalogue; source: LayoutSource } | undefined {
  const source = layoutSource(raw, baseDir, problems);
  if (source === undefined) return undefined;
  const before = problems.length;
  const compose = readCompose(source.compose, source.origin, problems);
  const catalogue = catalogueFromCompose(compose, problems);
  return problems.length > before ? undefined : { catalogue, source };
}

/**
 * The checkout's git revision and whether it has local changes (null: not a git
 * checkout). Asynchronous, so git runs while the program registers its resources.
 */
export async function checkoutRevision(
  dir: string,
): Promise<{ commit: string | null; dirty: boolean | null }> {
  const git = (...args: string[]) =>
    new Promise<string | undefined>((resolve) =>
      execFile("git", ["-C", dir, ...args], { encoding: "utf8", timeout: 10_000 }, (err, out) =>
        resolve(err ? undefined : out),
      ),
    );
  const head = await git("rev-parse", "HEAD");
  if (head === undefined) return { commit: null, dirty: null };
  const status = await git("status", "--porcelain", "--untracked-files=no");
  return {
    commit: head.trim(),
    dirty: status === undefined ? null : status.trim().length > 0,
  };
}
