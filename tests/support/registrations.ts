import * as path from "path";
import { isStatefulType } from "../../policy/stateful";
import { isSecretWrapper, PROJECT_DIR, RecordedResource } from "./harness";

/*
 * A program run's registrations in a form that can be stored and compared: what the
 * engine would diff (type, name, parent, inputs, options), with the checkout's own
 * directory written as <project> so the record does not depend on where it was made.
 */

export interface Registration {
  readonly urn: string;
  readonly custom: boolean;
  readonly parent: string;
  readonly provider: string;
  readonly dependencies: string[];
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly deleteBeforeReplace: boolean;
  readonly ignoreChanges: string[];
  readonly replaceOnChanges: string[];
  readonly additionalSecretOutputs: string[];
  readonly importId: string;
  readonly inputs: unknown;
}

const PROJECT_ROOT = path.resolve(PROJECT_DIR);

function portable(v: unknown): unknown {
  if (isSecretWrapper(v)) return { "<secret>": portable(v.value) };
  if (typeof v === "string") return v.split(PROJECT_ROOT).join("<project>");
  if (Array.isArray(v)) return v.map(portable);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return Object.fromEntries(keys.map((k) => [k, portable((v as Record<string, unknown>)[k])]));
  }
  return v;
}

export function registrations(resources: readonly RecordedResource[]): Registration[] {
  return resources
    .map((r) => ({
      urn: r.urn,
      custom: r.custom,
      parent: r.parent,
      provider: r.provider,
      dependencies: [...r.dependencies].sort(),
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
      deleteBeforeReplace: r.deleteBeforeReplace,
      ignoreChanges: [...r.ignoreChanges].sort(),
      replaceOnChanges: [...r.replaceOnChanges].sort(),
      additionalSecretOutputs: [...r.additionalSecretOutputs].sort(),
      importId: r.importId,
      inputs: portable(r.inputs),
    }))
    .sort((a, b) => a.urn.localeCompare(b.urn));
}

/** `urn:pulumi:<stack>::<project>::<type chain>::<name>` split into its parts. */
export function urnParts(urn: string): { prefix: string; chain: string; name: string } {
  const m = /^(urn:pulumi:[^:]+::[^:]+)::(.+?)::(.*)$/.exec(urn);
  if (!m) throw new Error(`not a URN: ${urn}`);
  return { prefix: m[1], chain: m[2], name: m[3] };
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** A URN with the type chain the engine gives it: every ancestor's type, then its own. */
function childUrn(prefix: string, parent: string | undefined, type: string, name: string): string {
  const parentChain = parent ? urnParts(parent).chain : "";
  const chain = parentChain && parentChain !== STACK_TYPE ? `${parentChain}$${type}` : type;
  return `${prefix}::${chain}::${name}`;
}

/**
 * Mock URN → engine URN for one run. Pulumi's mocks chain only the immediate parent's
 * type into a URN; the engine chains every ancestor's, so moving a component moves
 * all its descendants. Parents register before their children, so one pass suffices.
 */
function engineUrns(regs: readonly { urn: string; parent: string }[]): Map<string, string> {
  const byUrn = new Map(regs.map((r) => [r.urn, r]));
  const out = new Map<string, string>();
  const resolve = (urn: string): string => {
    const known = out.get(urn);
    if (known !== undefined) return known;
    const r = byUrn.get(urn);
    const { prefix, chain, name } = urnParts(urn);
    const type = chain.split("$").pop()!;
    const engine = childUrn(prefix, r?.parent ? resolve(r.parent) : undefined, type, name);
    out.set(urn, engine);
    return engine;
  };
  for (const r of regs) resolve(r.urn);
  return out;
}

/** The same registrations with every URN (own, parent, dependencies, provider) as the engine's. */
export function engineView(regs: readonly Registration[]): Registration[] {
  const map = engineUrns(regs);
  const urn = (u: string) => map.get(u) ?? u;
  const ref = (p: string) => {
    const i = p.lastIndexOf("::");
    return i > 0 && map.has(p.slice(0, i)) ? `${urn(p.slice(0, i))}${p.slice(i)}` : urn(p);
  };
  return regs
    .map((r) => ({
      ...r,
      urn: urn(r.urn),
      parent: r.parent ? urn(r.parent) : r.parent,
      provider: r.provider ? ref(r.provider) : r.provider,
      dependencies: r.dependencies.map(urn).sort(),
    }))
    .sort((a, b) => a.urn.localeCompare(b.urn));
}

/**
 * Engine URN → the old URNs its aliases stand for, the way the engine computes them:
 * each alias of its own, and each alias of its parent's with its own type and name
 * under it (a child inherits the move of its parent).
 */
function aliasUrns(resources: readonly RecordedResource[]): Map<string, string[]> {
  const map = engineUrns(resources);
  const urn = (u: string) => map.get(u) ?? u;
  const out = new Map<string, string[]>();
  for (const r of resources) {
    const { prefix, name } = urnParts(r.urn);
    const olds: string[] = [];
    for (const a of r.aliases) {
      if (a.urn) olds.push(a.urn);
      else {
        const parent = a.noParent ? undefined : urn(a.parentUrn ?? r.parent) || undefined;
        olds.push(childUrn(prefix, parent, a.type ?? r.type, a.name ?? r.name));
      }
    }
    for (const p of out.get(urn(r.parent)) ?? []) olds.push(childUrn(prefix, p, r.type, name));
    out.set(urn(r.urn), olds);
  }
  return out;
}

export interface Comparison {
  /** Before-URN → after-URN for each resource whose URN changed (reached by an alias). */
  readonly moved: Record<string, string>;
  /** Human-readable differences; empty when the runs register the same resources. */
  readonly differences: string[];
}

/**
 * Compares a recorded run (before) with a run now (after). A resource may change its
 * URN only if one of its aliases names the old one; every reference to it (parent,
 * provider, dependencies) is then read through the move.
 */
export function compareRuns(
  beforeRecords: readonly Registration[],
  afterResources: readonly RecordedResource[],
): Comparison {
  const before = engineView(beforeRecords);
  const after = engineView(registrations(afterResources));
  const afterByUrn = new Map(after.map((r) => [r.urn, r]));
  const reachedBy = new Map<string, string>();
  for (const r of after) reachedBy.set(r.urn, r.urn);
  for (const [now, olds] of aliasUrns(afterResources)) {
    for (const old of olds) if (!reachedBy.has(old)) reachedBy.set(old, now);
  }
  const moved: Record<string, string> = {};
  const differences: string[] = [];
  const matched = new Set<string>();
  for (const b of before) {
    const now = reachedBy.get(b.urn);
    if (now === undefined) {
      differences.push(`gone: ${b.urn} is not registered and no alias names it`);
      continue;
    }
    if (now !== b.urn) moved[b.urn] = now;
    matched.add(now);
  }
  const translateUrn = (u: string): string => moved[u] ?? u;
  const translateRef = (ref: string): string => {
    // A provider reference is "<urn>::<id>".
    const i = ref.lastIndexOf("::");
    if (i > 0 && moved[ref.slice(0, i)]) return `${moved[ref.slice(0, i)]}${ref.slice(i)}`;
    return translateUrn(ref);
  };
  for (const b of before) {
    const now = moved[b.urn] ?? b.urn;
    const a = afterByUrn.get(now);
    if (!a) continue;
    const expected: Registration = {
      ...b,
      urn: now,
      parent: b.parent ? translateUrn(b.parent) : b.parent,
      provider: b.provider ? translateRef(b.provider) : b.provider,
      dependencies: b.dependencies.map(translateUrn).sort(),
    };
    for (const key of Object.keys(expected) as (keyof Registration)[]) {
      // A move under another parent is what the alias says; the URN change names it.
      if (key === "parent" && now !== b.urn) continue;
      const x = JSON.stringify(expected[key]);
      const y = JSON.stringify(a[key]);
      if (x !== y) differences.push(`${b.urn}: ${key} was ${clip(x)}, is ${clip(y)}`);
    }
  }
  for (const a of after) {
    if (!matched.has(a.urn)) differences.push(`new: ${a.urn} was not registered before`);
  }
  return { moved, differences };
}

function clip(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** The stateful resources among the moved ones (their URN must not change at all). */
export function movedStateful(moved: Record<string, string>): string[] {
  return Object.keys(moved).filter((u) => isStatefulType(urnParts(u).chain.split("$").pop()!));
}
