/*
 * Shared types of the preview guard.
 */

/** Bad input: unreadable file, wrong format, bad argument. Exit code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** What a step (or `pulumi destroy`) does to one stateful resource. */
export type Classification =
  | "kept"
  | "created"
  | "updated"
  | "replaced"
  | "deleted-destroyed"
  | "deleted-retained"
  | "blocked-by-protect"
  | "detached"
  | "major-changed"
  | "major-unplanned"
  | "major-planned"
  | "unmounted"
  | "unread"
  | "unknown";

export const CLASSIFICATION_LABEL: Record<Classification, string> = {
  kept: "kept",
  created: "created",
  updated: "updated in place",
  replaced: "replaced",
  "deleted-destroyed": "deleted and destroyed",
  "deleted-retained": "deleted but retained",
  "blocked-by-protect": "blocked by protect",
  detached: "detached: the service starts without its data",
  "major-changed": "Postgres major changed on existing data",
  "major-unplanned": "major version upgrade not planned",
  "major-planned": "planned major version upgrade",
  unmounted: "kept, but no service mounts it any more",
  unread: "kept, but no service reads this store any more",
  unknown: "unknown change",
};

/** The state flags the guard needs from an old or new resource state. */
export interface StateFlags {
  readonly type?: string;
  readonly id?: string;
  /** Absent when the source omitted it (exports and the JSON omit false). */
  readonly protect?: boolean;
  readonly retainOnDelete?: boolean;
  readonly external?: boolean;
  /** Pending deletion after a replace (`delete: true` in state). */
  readonly delete?: boolean;
  /** The resource's inputs (outputs when a source carries no inputs): data bindings are read from them. */
  readonly inputs?: Readonly<Record<string, unknown>>;
  /** The resource's outputs as the state last saw them (a refresh updates them). */
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/** One engine step, from `pulumi preview --json` or an `--event-log` file. */
export interface StepRecord {
  readonly op: string;
  readonly urn: string;
  readonly type: string;
  readonly old?: StateFlags;
  readonly new?: StateFlags;
  readonly replaceReasons: readonly string[];
  /** Which input file it came from, for messages. */
  readonly source: string;
}

export interface EngineError {
  readonly urn?: string;
  readonly message: string;
}

export interface PolicyViolation {
  readonly urn?: string;
  readonly policy: string;
  readonly level: string;
  readonly message: string;
}

/** Everything read from the preview inputs, merged. */
export interface PreviewInput {
  readonly steps: readonly StepRecord[];
  readonly errors: readonly EngineError[];
  readonly policyViolations: readonly PolicyViolation[];
  readonly sources: readonly string[];
}

export interface Verdict {
  readonly stack: string;
  readonly urn: string;
  readonly name: string;
  readonly type: string;
  readonly classification: Classification;
  /** True when this change can lose data. */
  readonly atRisk: boolean;
  /** True when `--allow URN` accepted the risk. */
  readonly allowed: boolean;
  readonly detail: string;
}

export interface Report {
  readonly mode: "preview" | "state";
  readonly verdicts: readonly Verdict[];
  /** Reasons the input cannot vouch for safety (engine errors not explained by protect). */
  readonly incomplete: readonly string[];
  readonly policyViolations: readonly PolicyViolation[];
  /** Non-stateful changes, counted by operation, per stack. */
  readonly otherChanges: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly notes: readonly string[];
  readonly sources: readonly string[];
}

export function dataAtRisk(report: Report): boolean {
  return report.incomplete.length > 0 || report.verdicts.some((v) => v.atRisk && !v.allowed);
}

/** `urn:pulumi:<stack>::<project>::<parent$...$type>::<name>` */
export function parseUrn(urn: string): { stack: string; type: string; name: string } | undefined {
  const m = /^urn:pulumi:([^:]+)::([^:]+)::(.+?)::(.*)$/.exec(urn);
  if (!m) return undefined;
  const qualified = m[3];
  const type = qualified.slice(qualified.lastIndexOf("$") + 1);
  return { stack: m[1], type, name: m[4] };
}
