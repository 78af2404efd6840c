import type { Plan } from "./plan";
import { isPromotablePath, PROMOTABLE } from "./promotable";

/*
 * The hard invariant behind "promotion never moves the environment": compare the
 * target file before and after the edit leaf by leaf, and refuse if anything
 * outside the promotable set differs. It judges the parsed result, not the edit
 * code, so a bug in the editor (or a YAML anchor shared with an environment-only
 * key) cannot slip an environment change through.
 */

type Leaves = Map<string, { path: string[]; value: string }>;

/** Every leaf of a parsed document as path -> JSON value; empty maps/lists are leaves too. */
export function leaves(value: unknown, path: string[] = [], out: Leaves = new Map()): Leaves {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) {
      out.set(JSON.stringify(path), { path, value: JSON.stringify(value) });
    }
    for (const [k, v] of entries) leaves(v, [...path, k], out);
    return out;
  }
  out.set(JSON.stringify(path), { path, value: JSON.stringify(value) ?? "undefined" });
  return out;
}

function hasLeafUnder(all: Leaves, prefix: readonly string[]): boolean {
  for (const { path } of all.values()) {
    if (path.length > prefix.length && prefix.every((p, i) => path[i] === p)) return true;
  }
  return false;
}

function pathText(path: readonly string[]): string {
  return path.join(".");
}

/**
 * Paths outside the promotable set whose value differs between two parsed documents.
 * `blocks` names the service blocks a release may add or remove (plan.newBlocks and
 * plan.removedBlocks); any other block appearing or going is an environment change.
 */
export function environmentChanges(
  before: unknown,
  after: unknown,
  blocks: { added?: ReadonlySet<string>; removed?: ReadonlySet<string> } = {},
): string[] {
  const a = leaves(before);
  const b = leaves(after);
  const problems: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    if (x?.value === y?.value) continue;
    const path = (x ?? y)!.path;
    if (isPromotablePath(path)) continue;
    // A mapping that gains its first key (`{}` -> `{image: ...}`) loses its empty
    // leaf; the keys it gained are compared on their own.
    const other = x === undefined ? a : b;
    if ((x ?? y)!.value === "{}" && hasLeafUnder(other, path)) continue;
    // So does an empty `panopticon:services:` (null) that gets its first blocks.
    const isServices = path.length === 2 && path[1] === PROMOTABLE.servicesKey;
    if (isServices && (x ?? y)!.value === "null" && hasLeafUnder(other, path)) continue;
    problems.push(`${pathText(path)}: ${x?.value ?? "(absent)"} -> ${y?.value ?? "(absent)"}`);
  }
  // Image and env paths are promotable, but a service block appearing or going
  // away is not, even if all it holds is an image.
  const names = (doc: unknown) =>
    Object.keys(
      ((doc as { config?: Record<string, unknown> } | null)?.config?.[PROMOTABLE.servicesKey] ??
        {}) as Record<string, unknown>,
    );
  const had = new Set(names(before));
  const has = new Set(names(after));
  for (const n of had)
    if (!has.has(n) && !blocks.removed?.has(n))
      problems.push(`config.${PROMOTABLE.servicesKey}.${n}: block removed`);
  for (const n of has)
    if (!had.has(n) && !blocks.added?.has(n))
      problems.push(`config.${PROMOTABLE.servicesKey}.${n}: block added`);
  return problems.sort();
}

/** Promotable values of the edited target that are not what the plan asked for. */
export function unmetExpectations(plan: Plan, afterConfig: Record<string, unknown>): string[] {
  const services = (afterConfig[PROMOTABLE.servicesKey] ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, want] of plan.expected) {
    const block = services[name] as { image?: unknown; env?: unknown } | undefined;
    if (block === undefined) {
      // A missing block was refused earlier when it needed a change, unless the
      // release's compose has the service (then the edit adds it).
      if (plan.newBlocks.has(name)) problems.push(`${PROMOTABLE.servicesKey}.${name}: not added`);
      continue;
    }
    const image = block.image;
    if (image !== want.image) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${name}.image = ${JSON.stringify(image)}, expected ${JSON.stringify(want.image)}`,
      );
    }
    const env = (block.env ?? {}) as Record<string, unknown>;
    if (JSON.stringify(sorted(env)) !== JSON.stringify(sorted(want.env))) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${name}.env = ${JSON.stringify(sorted(env))}, expected ${JSON.stringify(sorted(want.env))}`,
      );
    }
  }
  // A service the release dropped keeps no promoted value.
  for (const name of plan.layout?.removed ?? []) {
    const block = services[name] as { image?: unknown; env?: unknown } | undefined;
    if (block?.image !== undefined || block?.env !== undefined) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${name} still has ${block.image !== undefined ? "an image" : "env"}, expected none (the release no longer has it)`,
      );
    }
  }
  if (plan.release !== undefined) {
    const got = afterConfig[PROMOTABLE.releaseKey];
    if (JSON.stringify(got) !== JSON.stringify(plan.release.to)) {
      problems.push(`${PROMOTABLE.releaseKey}: not the release of the source after the edit`);
    }
  }
  return problems;
}

function sorted(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
