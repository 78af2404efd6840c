/*
 * The migration report: per source what was read, written and checked, and the
 * verdict. Pure: written to a JSON file by run.ts and summarised on stdout.
 */

export const REPORT_FORMAT = "panopticon-migrate-report/1";

export interface Verification {
  /** Source ids looked up in the target afterwards. */
  readonly sampled: number;
  /** Of those: found with the same text and byte-equal vector (both NULL counts as equal). */
  readonly equal: number;
  /** Ids of the sample that differ or are missing. */
  readonly differing: readonly string[];
  /** `ORDER BY embedding <=> v LIMIT k` (0.1's search) with a migrated row's own vector v. */
  readonly similarity?: { readonly id: string; readonly found: boolean; readonly k: number };
  /** Source ids not in the target afterwards (tables: all of them checked). */
  readonly missing?: number;
}

export interface SourceReport {
  /** `table queries`, `collection queries in data set query`. */
  readonly source: string;
  readonly target: string;
  readonly status: "migrated" | "damaged" | "failed";
  readonly read: number;
  readonly inserted: number;
  readonly alreadyPresent: number;
  /** Documents that cannot become a row (no text, no type, ...), each named below. */
  readonly unusable: number;
  readonly unusableIds: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  /** Copied with a NULL embedding: the vector is only in ChromaDB's segment files. */
  readonly withoutVector: number;
  /** Non-UUID ChromaDB ids given a derived UUID (the original kept as metadata.chroma_id). */
  readonly derivedIds: number;
  readonly seconds: number;
  readonly error?: string;
  readonly verification?: Verification;
}

export interface Report {
  readonly format: typeof REPORT_FORMAT;
  readonly stack: string;
  readonly startedAt: string;
  readonly completedAt: string;
  readonly backup: string;
  readonly sources: readonly SourceReport[];
  readonly problems: readonly string[];
  /** Worth a look, not a failure (e.g. the same text twice under two ids). */
  readonly notes: readonly string[];
}

/** Everything that keeps a migration from being complete, one line each. */
export function problemsOf(sources: readonly SourceReport[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    const at = `${s.source} -> ${s.target}`;
    if (s.status === "damaged") {
      out.push(`${at}: damaged, skipped: ${s.error ?? "unreadable"}`);
      continue;
    }
    if (s.status === "failed") {
      out.push(`${at}: failed, nothing written for it: ${s.error ?? "unknown error"}`);
      continue;
    }
    if (s.read !== s.inserted + s.alreadyPresent + s.unusable) {
      out.push(
        `${at}: ${s.read} read but ${s.inserted} inserted + ${s.alreadyPresent} already present + ` +
          `${s.unusable} unusable`,
      );
    }
    if (s.unusable > 0) {
      const ids = s.unusableIds.map((u) => `${u.id} (${u.reason})`).join(", ");
      out.push(`${at}: ${s.unusable} document(s) not copied: ${ids}`);
    }
    const v = s.verification;
    if (v === undefined) continue;
    if (v.equal !== v.sampled) {
      out.push(`${at}: sampled rows differ in the target: ${v.differing.join(", ")}`);
    }
    if (v.missing !== undefined && v.missing > 0) {
      out.push(`${at}: ${v.missing} source row(s) not in the target`);
    }
    if (v.similarity !== undefined && !v.similarity.found) {
      out.push(
        `${at}: a similarity query (LIMIT ${v.similarity.k}) with row ${v.similarity.id}'s own vector ` +
          `did not find it`,
      );
    }
  }
  return out;
}

/** One line per source for the terminal. */
export function summaryLine(s: SourceReport): string {
  if (s.status !== "migrated") return `${s.status.toUpperCase()} ${s.source}: ${s.error ?? ""}`;
  const extra = [
    s.unusable > 0 ? `${s.unusable} unusable` : "",
    s.withoutVector > 0 ? `${s.withoutVector} without a vector (NULL embedding)` : "",
    s.derivedIds > 0 ? `${s.derivedIds} derived ids` : "",
  ].filter(Boolean);
  const v = s.verification;
  const check = v
    ? `; checked ${v.equal}/${v.sampled} sampled rows byte-equal` +
      (v.similarity ? `, similarity query ${v.similarity.found ? "finds" : "MISSES"} them` : "")
    : "";
  return (
    `${s.unusable > 0 || (v && v.equal !== v.sampled) ? "PROBLEM" : "ok     "} ${s.source} -> ${s.target}: ${s.read} read = ${s.inserted} inserted + ` +
    `${s.alreadyPresent} already present${s.unusable > 0 ? ` + ${s.unusable} unusable` : ""}` +
    `${extra.length > 0 ? ` (${extra.join(", ")})` : ""}${check}` +
    ` in ${s.seconds.toFixed(1)} s (${Math.round(s.read / Math.max(s.seconds, 0.001))} rows/s)`
  );
}
