import { isDeepStrictEqual } from "util";
import { Document } from "yaml";
import { toolError } from "../lib/exit-codes";
import type { StackCheck } from "../lib/stack-file";
import { PROMOTABLE } from "./promotable";

/*
 * The release a deployed stack ran: the Panopticon commit it was built from and that
 * checkout's docker-compose.yml (parsed, uninterpolated), exported by the program as
 * the stack output `release`. Prod has no checkout, so promotion carries this value
 * into the target's `panopticon:release` config key, beside the image digests.
 */

export interface ReleaseSource {
  /** The checkout's revision; null when it is not a git checkout. */
  readonly commit: string | null;
  /** Whether it had local changes; null when unknown. */
  readonly dirty: boolean | null;
}

export interface Release {
  readonly source: ReleaseSource;
  /** The checkout's docker-compose.yml as a YAML map (`services:` and the rest). */
  readonly compose: Record<string, unknown>;
}

/** Where a database service keeps its data: the service mounting it is Postgres. */
export const POSTGRES_DATA_PATH = "/var/lib/postgresql/data";

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Checks the shape of a `release` value (from stack outputs or a stack file) and
 * returns it with its keys in the order promotion writes them (source, then compose).
 */
export function parseRelease(value: unknown, where: string, exitCode: 1 | 2 = 2): Release {
  const bad = (what: string, v: unknown, expected: string): never => {
    throw toolError(
      exitCode,
      `${where}: ${what} = ${JSON.stringify(v)?.slice(0, 80)}: expected ${expected}`,
    );
  };
  if (!isMap(value)) bad("release", value, "{source: {commit, dirty}, compose: {services: ...}}");
  const r = value as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => k !== "source" && k !== "compose");
  if (extra.length > 0) bad(`release.${extra[0]}`, r[extra[0]], "only source and compose");
  if (!isMap(r.source)) bad("release.source", r.source, "{commit, dirty}");
  const s = r.source as Record<string, unknown>;
  if (s.commit !== null && (typeof s.commit !== "string" || s.commit === "")) {
    bad("release.source.commit", s.commit, "the checkout's revision, or null");
  }
  if (s.dirty !== null && typeof s.dirty !== "boolean") {
    bad("release.source.dirty", s.dirty, "true, false or null");
  }
  if (!isMap(r.compose) || !isMap(r.compose.services)) {
    bad("release.compose", r.compose, "the checkout's docker-compose.yml, a map with services");
  }
  const compose = r.compose as Record<string, unknown>;
  if (Object.keys(compose.services as object).length === 0) {
    bad("release.compose.services", compose.services, "at least one service");
  }
  return {
    source: { commit: s.commit as string | null, dirty: s.dirty as boolean | null },
    compose,
  };
}

/** Why a deployed release cannot be promoted, or undefined. */
export function releaseRefusal(release: Release, from: string, where: string): string | undefined {
  if (release.source.dirty === true) {
    const at = release.source.commit === null ? "" : ` (at ${release.source.commit})`;
    return `release in ${where}: stack ${from} was deployed from a Panopticon checkout with local changes${at}, and a checkout with local changes is not a release: commit them, deploy ${from} again, then promote`;
  }
  return undefined;
}

/** The services of the release's compose file, in the file's order. */
export function composeServices(release: Release): string[] {
  return Object.keys(release.compose.services as object);
}

function mountTarget(volume: unknown): string | undefined {
  if (typeof volume === "string") {
    // short syntax: [SOURCE:]TARGET[:MODE]
    const parts = volume.split(":");
    return parts.length === 1 ? parts[0] : parts[1];
  }
  return isMap(volume) && typeof volume.target === "string" ? volume.target : undefined;
}

/** Services of the release that mount Postgres's data directory (RDS replaces them on AWS). */
export function databaseServices(release: Release): Set<string> {
  const out = new Set<string>();
  for (const [name, svc] of Object.entries(release.compose.services as object)) {
    const volumes = isMap(svc) && Array.isArray(svc.volumes) ? svc.volumes : [];
    if (volumes.some((v) => mountTarget(v) === POSTGRES_DATA_PATH)) out.add(name);
  }
  return out;
}

export function sameRelease(a: Release | undefined, b: Release | undefined): boolean {
  return isDeepStrictEqual(a, b);
}

/** `e342b64 (clean)`, as the summary names a release. */
export function describeRelease(release: Release): string {
  const { commit, dirty } = release.source;
  const at = commit === null ? "an unknown commit" : commit.slice(0, 12);
  const state = dirty === false ? "clean" : dirty === null ? "local changes unknown" : "dirty";
  return `${at} (${state})`;
}

/**
 * `key:` and `value` as YAML block lines, each prefixed with `indent`, nested by
 * `step`, ending in `eol`. Strings a YAML 1.1 reader would take for a number or a
 * boolean (`8000:8000`, `on`) are quoted, so every reader of the stack file gets
 * back exactly the strings compose had.
 */
export function renderBlock(
  key: string,
  value: unknown,
  indent: string,
  step: number,
  eol: string,
): string {
  // Under the YAML 1.1 schema the stringifier itself quotes sexagesimals and yes/no/on/off.
  const doc = new Document({ [key]: value }, { aliasDuplicateObjects: false, version: "1.1" });
  const text = doc.toString({ indent: step, lineWidth: 0, directives: false });
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => `${indent}${line}${eol}`)
    .join("");
}

/**
 * promote's check of a stack file's own release block, with promote's messages, before
 * the settings validate it with the rest (a StackCheck `inspect`).
 */
export const checkReleaseBlock: NonNullable<StackCheck["inspect"]> = (
  config,
  merged,
  label,
  code,
) => {
  if (config[PROMOTABLE.releaseKey] !== undefined) {
    parseRelease(merged[PROMOTABLE.releaseKey], `${label}: ${PROMOTABLE.releaseKey}`, code);
  }
};
