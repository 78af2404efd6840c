import { Document, isMap, isScalar, Pair, YAMLMap } from "yaml";
import { PROMOTABLE } from "./promotable";
import type { Change } from "./plan";
import { Release } from "./release";
import {
  applySplices,
  EditError,
  Editor,
  Entry,
  findPair,
  indentStep,
  keyText,
} from "./yaml-splice";

/*
 * Applies a promotion plan to a stack file's text by splicing new text into the
 * byte ranges of the nodes that change. Everything else (comments, order, blank
 * lines, quoting, line endings) is the original text, byte for byte. The caller
 * re-parses the result and checks it (see invariant.ts): this module only has to
 * be right about layout, never trusted about meaning.
 */

export { applySplices, EditError, renderScalar } from "./yaml-splice";

/** What a release changes beyond single values (see plan.ts). */
export interface LayoutEdits {
  /** Written as `panopticon:release`, replacing the one the file has. */
  readonly release?: Release;
  /** Services the release dropped: their image and env go. */
  readonly vanished?: readonly string[];
  /** Of those, the ones whose whole block goes (nothing else was in it). */
  readonly removedBlocks?: ReadonlySet<string>;
}

/** The block of a service new in the release: its image, and env when it has one. */
function newBlock(list: readonly Change[]): Record<string, unknown> {
  const block: Record<string, unknown> = {};
  for (const c of list) {
    if (c.field === "image") block.image = c.to;
    else block.env = { ...((block.env as object) ?? {}), [c.envKey!]: c.to };
  }
  return block;
}

/**
 * Returns the target file's text with the plan's changes applied. `doc` must be
 * the parse of `text`. Throws EditError when a change cannot be made in place.
 */
export function applyChanges(
  text: string,
  doc: Document,
  changes: readonly Change[],
  layout: LayoutEdits = {},
): string {
  const ed = new Editor(text);
  const config = doc.get("config", true);
  const services = doc.getIn(["config", PROMOTABLE.servicesKey], true);
  const byService = new Map<string, Change[]>();
  for (const c of changes) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  const vanished = new Set(layout.vanished ?? []);
  const blocks: Array<[string, Record<string, unknown>]> = [];
  const stepOf = (inner: unknown) =>
    isMap(config) && isMap(inner) ? indentStep(text, config, inner).length : 2;

  // A file with no services yet (`panopticon:services:` empty, `{}` or absent) gets
  // its first blocks from a release.
  const noServices =
    services === undefined ||
    (isScalar(services) && (services.value === null || services.value === "")) ||
    (isMap(services) && services.items.length === 0);

  for (const [name, list] of byService) {
    const where = `${PROMOTABLE.servicesKey}.${name}`;
    if (noServices && !vanished.has(name) && list.every((c) => c.op === "+")) {
      blocks.push([name, newBlock(list)]);
      continue;
    }
    if (!isMap(services)) throw new EditError(`${PROMOTABLE.servicesKey}: expected a mapping`);
    if (vanished.has(name)) {
      removeVanished(ed, services, name, layout.removedBlocks?.has(name) ?? false);
      continue;
    }
    const svc = services.get(name, true);
    if (svc === undefined && list.every((c) => c.op === "+")) {
      blocks.push([name, newBlock(list)]);
      continue;
    }
    if (!isMap(svc)) throw new EditError(`${where}: expected a mapping of the service's settings`);
    editService(ed, svc, list, indentStep(text, services, svc), where);
  }
  if (blocks.length > 0 && noServices) {
    if (!isMap(config)) throw new EditError("config: expected a mapping");
    const all = Object.fromEntries(blocks);
    ed.setBlockPair(config, PROMOTABLE.servicesKey, all, 2, PROMOTABLE.servicesKey);
  } else if (blocks.length > 0 && isMap(services)) {
    ed.addBlocks(services, blocks, stepOf(services), PROMOTABLE.servicesKey);
  }
  if (layout.release !== undefined) {
    if (!isMap(config)) throw new EditError("config: expected a mapping");
    const value = { source: layout.release.source, compose: layout.release.compose };
    ed.setBlockPair(config, PROMOTABLE.releaseKey, value, stepOf(services), PROMOTABLE.releaseKey);
  }
  return applySplices(text, ed.splices);
}

/** A service the release dropped: its whole block goes, or its image and env. */
function removeVanished(ed: Editor, services: YAMLMap, name: string, wholeBlock: boolean): void {
  const where = `${PROMOTABLE.servicesKey}.${name}`;
  const pair = findPair(services, name);
  const svc = pair?.value;
  if (pair === undefined || !isMap(svc)) throw new EditError(`${where}: expected a mapping`);
  if (wholeBlock) {
    if (services.flow) throw new EditError(`${where}: in a flow mapping; remove it by hand`);
    ed.removeBlockPair(pair, where);
  } else if (svc.flow) {
    ed.removeFlowPairs(svc, new Set(["image", "env"]), where);
  } else {
    for (const key of ["image", "env"]) {
      const p = findPair(svc, key);
      if (p !== undefined) ed.removeBlockPair(p, `${where}.${key}`);
    }
  }
}

/** One service's image and env changes, made in its existing block. */
function editService(
  ed: Editor,
  svc: YAMLMap,
  list: readonly Change[],
  step: string,
  where: string,
): void {
  const newPairs: Entry[] = [];
  for (const c of list.filter((c) => c.field === "image")) {
    if (c.op === "~") ed.replaceScalar(svc.get("image", true), c.to!, !!svc.flow, `${where}.image`);
    else if (c.op === "+") newPairs.push(["image", c.to!]);
    else throw new EditError(`${where}.image: an image is never removed by promotion`);
  }
  const envChanges = list.filter((c) => c.field === "env");
  if (envChanges.length > 0) {
    const envPair = findPair(svc, "env");
    const env = envPair?.value;
    if (envPair === undefined) {
      if (envChanges.some((c) => c.op !== "+")) {
        throw new EditError(`${where}.env: the file has no env to change`);
      }
      newPairs.push(["env", Object.fromEntries(envChanges.map((c) => [c.envKey!, c.to!]))]);
    } else if (!isMap(env)) {
      throw new EditError(
        `${where}.env: expected a mapping (an alias or other form cannot be edited in place)`,
      );
    } else if (env.flow && envChanges.some((c) => c.op === "-")) {
      rewriteFlowEnv(ed, env, envChanges, `${where}.env`);
    } else {
      editEnvPairs(ed, envPair, env, envChanges, step, `${where}.env`);
    }
  }
  ed.addPairs(svc, newPairs, step, where);
}

/** Removing from a flow map means re-joining its items: the map is rewritten whole. */
function rewriteFlowEnv(ed: Editor, env: YAMLMap, changes: readonly Change[], what: string): void {
  const next: Record<string, string> = {};
  for (const item of env.items) {
    const p = item as Pair;
    if (isScalar(p.value) && typeof p.value.value === "string") next[keyText(p)] = p.value.value;
  }
  for (const c of changes) {
    if (c.op === "-") delete next[c.envKey!];
    else next[c.envKey!] = c.to!;
  }
  ed.rewriteFlowMap(env, next, what);
}

/** Env changes made pair by pair: replaced, removed, added (an emptied map becomes `{}`). */
function editEnvPairs(
  ed: Editor,
  envPair: Pair,
  env: YAMLMap,
  changes: readonly Change[],
  step: string,
  where: string,
): void {
  const adds: Entry[] = [];
  let removed = 0;
  for (const c of changes) {
    const what = `${where}.${c.envKey}`;
    const pair = findPair(env, c.envKey!);
    if (c.op === "~") ed.replaceScalar(pair?.value, c.to!, !!env.flow, what);
    else if (c.op === "-") {
      if (!pair) throw new EditError(`${what}: not found in the file`);
      ed.removeBlockPair(pair, what);
      removed++;
    } else adds.push([c.envKey!, c.to!]);
  }
  if (adds.length > 0) ed.addPairs(env, adds, step, where);
  else if (removed === env.items.length) ed.emptyBlockValue(envPair, where);
}
