import {
  Document,
  isAlias,
  isMap,
  isScalar,
  Node,
  Pair,
  parseDocument,
  Scalar,
  YAMLMap,
} from "yaml";
import { PROMOTABLE } from "./promotable";
import type { Change } from "./plan";
import { Release, renderBlock } from "./release";

/*
 * Applies a promotion plan to a stack file's text by splicing new text into the
 * byte ranges of the nodes that change. Everything else (comments, order, blank
 * lines, quoting, line endings) is the original text, byte for byte. The caller
 * re-parses the result and checks it (see invariant.ts): this module only has to
 * be right about layout, never trusted about meaning.
 */

/** The edit cannot be made safely in this file's layout; the message says why. */
export class EditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EditError";
  }
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

type Entry = readonly [key: string, value: string | Readonly<Record<string, string>>];

/** Replaces `[start, end)` ranges; ranges may touch but not overlap. */
export function applySplices(text: string, splices: readonly Splice[]): string {
  const sorted = splices
    .map((s, i) => ({ ...s, i }))
    .sort((a, b) => a.start - b.start || a.i - b.i);
  let out = "";
  let at = 0;
  for (const s of sorted) {
    if (s.start < at || s.end < s.start) {
      throw new EditError(`overlapping edits at offset ${s.start}; edit the file by hand`);
    }
    out += text.slice(at, s.start) + s.text;
    at = s.end;
  }
  return out + text.slice(at);
}

function roundTrips(src: string, expected: unknown): boolean {
  const doc = parseDocument(src);
  if (doc.errors.length > 0) return false;
  try {
    return JSON.stringify(doc.toJS()) === JSON.stringify(expected);
  } catch {
    return false; // e.g. `*x` read as an alias with no anchor
  }
}

/** A scalar in the style asked for when that style reads back as the same string. */
export function renderScalar(
  value: string,
  style: Scalar.Type | undefined,
  inFlow: boolean,
): string {
  const plainOk = (v: string) =>
    v.length > 0 &&
    !/[\r\n]/.test(v) &&
    (inFlow ? roundTrips(`[${v}]`, [v]) : roundTrips(`k: ${v}`, { k: v }));
  if (style === "QUOTE_SINGLE" && !/[\r\n]/.test(value)) {
    const quoted = `'${value.replace(/'/g, "''")}'`;
    if (roundTrips(`k: ${quoted}`, { k: value })) return quoted;
  }
  if ((style === undefined || style === "PLAIN") && plainOk(value)) return value;
  // JSON string escapes are a subset of YAML double-quoted escapes.
  return JSON.stringify(value);
}

/** A mapping key, plain when it reads back as the same string (`true` would be a boolean). */
function renderKey(key: string, inFlow: boolean): string {
  const doc = parseDocument(inFlow ? `{${key}: x}` : `${key}: x`);
  const first = isMap(doc.contents) ? (doc.contents.items[0] as Pair | undefined) : undefined;
  const plain =
    doc.errors.length === 0 &&
    isMap(doc.contents) &&
    doc.contents.items.length === 1 &&
    isScalar(first?.key) &&
    first.key.value === key;
  return plain ? key : JSON.stringify(key);
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** The offset just after the line break that ends the line containing `pos - 1`. */
function lineEndAfter(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === "\n") return pos;
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? text.length : nl + 1;
}

function rangeOf(node: Node | null | undefined, what: string): [number, number, number] {
  const r = node?.range;
  if (!r) throw new EditError(`${what}: cannot locate it in the file; edit it by hand`);
  return r;
}

function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => keyText(p as Pair) === key) as Pair | undefined;
}

function pairEnd(pair: Pair, what: string): number {
  const v = pair.value as Node | null;
  return v?.range ? v.range[2] : rangeOf(pair.key as Node, what)[2];
}

class Editor {
  readonly splices: Splice[] = [];
  readonly eol: string;

  constructor(readonly text: string) {
    this.eol = text.includes("\r\n") ? "\r\n" : "\n";
  }

  /** Indentation (spaces before the key) of a block map's items. */
  private indentOf(map: YAMLMap, what: string): string {
    const first = map.items[0] as Pair | undefined;
    const r = rangeOf(first?.key as Node, what);
    const lead = this.text.slice(lineStart(this.text, r[0]), r[0]);
    if (!/^ *$/.test(lead)) {
      throw new EditError(`${what}: the first key does not start its own line; edit it by hand`);
    }
    return lead;
  }

  replaceScalar(node: unknown, value: string, inFlow: boolean, what: string): void {
    if (!isScalar(node) && !isAlias(node)) {
      throw new EditError(`${what}: expected a single value in the file; edit it by hand`);
    }
    const [start, end] = rangeOf(node, what);
    const style = isScalar(node) ? node.type : "PLAIN";
    let text = renderScalar(value, style, inFlow);
    if (style === "BLOCK_LITERAL" || style === "BLOCK_FOLDED") {
      // A block scalar's range swallows its final line break; keep one.
      text += this.text.slice(start, end).endsWith("\n") ? this.eol : "";
    }
    if (start === end) text = ` ${text}`; // `KEY:` with an empty value
    this.splices.push({ start, end, text });
  }

  /** Appends pairs to a map, in the map's own style. */
  addPairs(map: YAMLMap, entries: readonly Entry[], step: string, what: string): void {
    if (entries.length === 0) return;
    if (map.flow) {
      const [, valueEnd] = rangeOf(map, what);
      const parts = entries.map(([k, v]) => this.flowPair(k, v));
      const last = map.items[map.items.length - 1] as Pair | undefined;
      if (last === undefined) {
        this.splices.push({ start: valueEnd - 1, end: valueEnd - 1, text: parts.join(", ") });
      } else {
        const at = (last.value as Node | null)?.range?.[1] ?? rangeOf(last.key as Node, what)[1];
        this.splices.push({ start: at, end: at, text: ", " + parts.join(", ") });
      }
      return;
    }
    if (map.items.length === 0) {
      throw new EditError(`${what}: an empty block mapping cannot be extended; edit it by hand`);
    }
    const indent = this.indentOf(map, what);
    const last = map.items[map.items.length - 1] as Pair;
    const at = lineEndAfter(this.text, pairEnd(last, what));
    let text = at === this.text.length && !this.text.endsWith("\n") ? this.eol : "";
    for (const [k, v] of entries) {
      if (typeof v === "string") {
        text += `${indent}${renderKey(k, false)}: ${renderScalar(v, undefined, false)}${this.eol}`;
      } else {
        text += `${indent}${renderKey(k, false)}:${this.eol}`;
        for (const [ek, ev] of Object.entries(v)) {
          text += `${indent}${step}${renderKey(ek, false)}: ${renderScalar(ev, undefined, false)}${this.eol}`;
        }
      }
    }
    this.splices.push({ start: at, end: at, text });
  }

  private flowPair(k: string, v: string | Readonly<Record<string, string>>): string {
    if (typeof v === "string") return `${renderKey(k, true)}: ${renderScalar(v, undefined, true)}`;
    const inner = Object.entries(v).map(([ek, ev]) => this.flowPair(ek, ev));
    return `${renderKey(k, true)}: {${inner.join(", ")}}`;
  }

  /** Removes whole lines of a block-map pair (comments above it stay). */
  removeBlockPair(pair: Pair, what: string): void {
    const [keyStart] = rangeOf(pair.key as Node, what);
    const from = lineStart(this.text, keyStart);
    if (!/^ *$/.test(this.text.slice(from, keyStart))) {
      throw new EditError(`${what}: the key does not start its own line; edit it by hand`);
    }
    this.splices.push({ start: from, end: lineEndAfter(this.text, pairEnd(pair, what)), text: "" });
  }

  /** Re-renders a flow map: kept pairs keep their source text, changed ones get new values. */
  rewriteFlowMap(map: YAMLMap, target: Readonly<Record<string, string>>, what: string): void {
    const [start, end] = rangeOf(map, what);
    const parts: string[] = [];
    for (const item of map.items) {
      const pair = item as Pair;
      const k = keyText(pair);
      if (!(k in target)) continue;
      const [ks, ke] = rangeOf(pair.key as Node, what);
      const v = pair.value as Node | null;
      const old = isScalar(v) ? v.value : undefined;
      if (old === target[k] && v?.range) {
        parts.push(this.text.slice(ks, v.range[1]));
      } else {
        const style = isScalar(v) ? v.type : undefined;
        parts.push(`${this.text.slice(ks, ke)}: ${renderScalar(target[k], style, true)}`);
      }
    }
    for (const k of Object.keys(target)) {
      if (!findPair(map, k)) parts.push(this.flowPair(k, target[k]));
    }
    this.splices.push({ start, end, text: `{${parts.join(", ")}}` });
  }

  /** Rewrites a flow map without `keys`; the pairs kept keep their source text. */
  removeFlowPairs(map: YAMLMap, keys: ReadonlySet<string>, what: string): void {
    const [start, end] = rangeOf(map, what);
    const kept = map.items
      .map((item) => item as Pair)
      .filter((pair) => !keys.has(keyText(pair)))
      .map((pair) => {
        const [ks] = rangeOf(pair.key as Node, what);
        const ve = (pair.value as Node | null)?.range?.[1] ?? rangeOf(pair.key as Node, what)[1];
        return this.text.slice(ks, ve);
      });
    this.splices.push({ start, end, text: `{${kept.join(", ")}}` });
  }

  /**
   * Sets `key` of a block map to `value`, rendered as block YAML: replaces the lines
   * of the pair when there is one (comments above it stay), else appends it after
   * the map's last pair.
   */
  setBlockPair(map: YAMLMap, key: string, value: unknown, step: number, what: string): void {
    if (map.flow) throw new EditError(`${what}: the mapping is in flow style; edit it by hand`);
    const indent = this.indentOf(map, what);
    const text = renderBlock(key, value, indent, step, this.eol);
    const pair = findPair(map, key);
    if (pair !== undefined) {
      const [keyStart] = rangeOf(pair.key as Node, what);
      const from = lineStart(this.text, keyStart);
      if (!/^ *$/.test(this.text.slice(from, keyStart))) {
        throw new EditError(`${what}: the key does not start its own line; edit it by hand`);
      }
      this.splices.push({ start: from, end: lineEndAfter(this.text, pairEnd(pair, what)), text });
      return;
    }
    const last = map.items[map.items.length - 1] as Pair;
    const at = lineEndAfter(this.text, pairEnd(last, what));
    const lead = at === this.text.length && !this.text.endsWith("\n") ? this.eol : "";
    this.splices.push({ start: at, end: at, text: lead + text });
  }

  /** Appends whole service blocks (`name:` and its settings) to a block map. */
  addBlocks(map: YAMLMap, blocks: ReadonlyArray<[string, unknown]>, step: number, what: string) {
    if (map.flow || map.items.length === 0) {
      throw new EditError(
        `${what}: new service blocks can only be added to a block mapping with entries; add ${blocks.map((b) => b[0]).join(", ")} by hand`,
      );
    }
    const indent = this.indentOf(map, what);
    const last = map.items[map.items.length - 1] as Pair;
    const at = lineEndAfter(this.text, pairEnd(last, what));
    let text = at === this.text.length && !this.text.endsWith("\n") ? this.eol : "";
    for (const [name, value] of blocks) text += renderBlock(name, value, indent, step, this.eol);
    this.splices.push({ start: at, end: at, text });
  }

  /** Turns `env:` (whose block items were all removed) into `env: {}`. */
  emptyBlockValue(pair: Pair, what: string): void {
    const [, keyEnd] = rangeOf(pair.key as Node, what);
    const colon = this.text.indexOf(":", keyEnd);
    if (colon === -1) throw new EditError(`${what}: cannot find the ':' after the key`);
    this.splices.push({ start: colon + 1, end: colon + 1, text: " {}" });
  }
}

function indentStep(text: string, outer: YAMLMap, inner: YAMLMap): string {
  const col = (m: YAMLMap) => {
    const k = (m.items[0] as Pair | undefined)?.key as Node | undefined;
    return k?.range ? k.range[0] - lineStart(text, k.range[0]) : undefined;
  };
  const a = col(outer);
  const b = col(inner);
  return a !== undefined && b !== undefined && b > a ? " ".repeat(b - a) : "  ";
}

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
      const pair = findPair(services, name);
      const svc = pair?.value;
      if (pair === undefined || !isMap(svc)) throw new EditError(`${where}: expected a mapping`);
      if (layout.removedBlocks?.has(name)) {
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
      continue;
    }
    const svc = services.get(name, true);
    if (svc === undefined && list.every((c) => c.op === "+")) {
      blocks.push([name, newBlock(list)]);
      continue;
    }
    if (!isMap(svc)) throw new EditError(`${where}: expected a mapping of the service's settings`);
    const step = indentStep(text, services, svc);
    const newPairs: Entry[] = [];

    for (const c of list.filter((c) => c.field === "image")) {
      if (c.op === "~")
        ed.replaceScalar(svc.get("image", true), c.to!, !!svc.flow, `${where}.image`);
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
        // Removing from a flow map means re-joining its items; rewrite it whole.
        const next: Record<string, string> = {};
        for (const item of env.items) {
          const p = item as Pair;
          if (isScalar(p.value) && typeof p.value.value === "string")
            next[keyText(p)] = p.value.value;
        }
        for (const c of envChanges) {
          if (c.op === "-") delete next[c.envKey!];
          else next[c.envKey!] = c.to!;
        }
        ed.rewriteFlowMap(env, next, `${where}.env`);
      } else {
        const adds: Entry[] = [];
        let removed = 0;
        for (const c of envChanges) {
          const what = `${where}.env.${c.envKey}`;
          const pair = findPair(env, c.envKey!);
          if (c.op === "~") ed.replaceScalar(pair?.value, c.to!, !!env.flow, what);
          else if (c.op === "-") {
            if (!pair) throw new EditError(`${what}: not found in the file`);
            ed.removeBlockPair(pair, what);
            removed++;
          } else adds.push([c.envKey!, c.to!]);
        }
        if (adds.length > 0) ed.addPairs(env, adds, step, `${where}.env`);
        else if (removed === env.items.length) ed.emptyBlockValue(envPair, `${where}.env`);
      }
    }
    ed.addPairs(svc, newPairs, step, where);
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
