import { z } from "zod";
import { configSchema } from "./config-schema";
import { keysAt } from "./keys";
import { PROJECT } from "./naming";
import { didYouMean } from "./suggest";

/*
 * How the config layer reports: every problem as `key = value: expected ...`, all of
 * them at once in one ConfigError, before any resource exists.
 */

/**
 * A configuration error: names every bad key, its value and what was expected.
 *
 * It is a Pulumi `RunError` to the language host, which then prints the message alone
 * (no "unhandled exception", no stack): the SDK recognises a RunError by this marker
 * field (`RunError.isInstance`, made for several SDK copies in one process), so the
 * settings code stays free of the SDK that the data tools would otherwise load.
 * tests/cli-refusal.test.ts runs the real language host to keep this true.
 */
export class ConfigError extends Error {
  readonly __pulumiRunError = true;
  constructor(
    readonly stackName: string,
    readonly problems: readonly string[],
  ) {
    super(
      `Invalid configuration for stack "${stackName}" (nothing was created or changed):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** A value as a problem quotes it: JSON, cut at 80 characters. */
export function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The full config key of a path: `panopticon:services.judge-service.port`. */
export function keyOf(path: ReadonlyArray<PropertyKey>): string {
  return `${PROJECT}:${path.map(String).join(".")}`;
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Turns zod issues into `key = value: expected ...` lines. */
export function describeIssues(raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    // `settings | false`: report why the settings branch failed, not the union itself.
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const branches = issue.errors.filter(
        (b) => b.length > 0 && !b.every((e) => e.code === "invalid_value" && e.path.length === 0),
      );
      if (branches.length === 1 && branches[0].every((e) => e.path.length > 0)) {
        const nested = branches[0].map((e) => ({ ...e, path: [...issue.path, ...e.path] }));
        return describeIssues(raw, nested as z.core.$ZodIssue[]);
      }
    }
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(configSchema, issue.path);
      return issue.keys
        .map((k) => {
          const hint = didYouMean(k, known);
          return `${keyOf([...issue.path, k])} is not a known setting${hint === "" ? " (check the spelling)" : hint}`;
        })
        .join("; ");
    }
    if (issue.code === "invalid_key") {
      const bad = issue.path[issue.path.length - 1];
      return `${keyOf(issue.path)}: name ${show(bad)} ${issue.issues[0]?.message ?? issue.message}`;
    }
    const path = issue.path;
    return `${keyOf(path)} = ${show(valueAt(raw, path))}: ${issue.message}`;
  });
}

/**
 * One problem per value two items share. With `keyOf`, the problem names the config
 * keys that set it, so the user knows which one to change.
 */
export function dupes<T>(
  items: readonly T[],
  keyFn: (t: T) => string | undefined,
  what: string,
  problems: string[],
  keyOf?: (t: T) => string,
): void {
  const seen = new Map<string, T>();
  for (const item of items) {
    const k = keyFn(item);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first !== undefined) {
      const who = (t: T) =>
        (t as { key?: string; name?: string }).key ?? (t as { name?: string }).name ?? "?";
      problems.push(
        `duplicate ${what} ${show(k)} used by both "${who(first)}" and "${who(item)}": expected each to be unique` +
          (keyOf ? `; change ${keyOf(first)} or ${keyOf(item)}` : ""),
      );
    } else {
      seen.set(k, item);
    }
  }
}
