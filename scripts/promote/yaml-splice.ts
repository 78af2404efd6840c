import { isAlias, isMap, isScalar, Node, Pair, parseDocument, Scalar, YAMLMap } from "yaml";
import { renderBlock } from "./release";

/*
 * Byte-range splices into YAML text (the Editor), for yaml-edit.ts's promotion and
 * stack-edit.ts's scalar edits: new text goes into the ranges of the nodes that
 * change, and everything else stays the original text, byte for byte.
 */

/** The edit cannot be made safely in this file's layout; the message says why. */
export class EditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EditError";
  }
}

export interface Splice {
  start: number;
  end: number;
  text: string;
}

export type Entry = readonly [key: string, value: string | Readonly<Record<string, string>>];

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

export function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

export function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => keyText(p as Pair) === key) as Pair | undefined;
}

function pairEnd(pair: Pair, what: string): number {
  const v = pair.value as Node | null;
  return v?.range ? v.range[2] : rangeOf(pair.key as Node, what)[2];
}

export class Editor {
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

export function indentStep(text: string, outer: YAMLMap, inner: YAMLMap): string {
  const col = (m: YAMLMap) => {
    const k = (m.items[0] as Pair | undefined)?.key as Node | undefined;
    return k?.range ? k.range[0] - lineStart(text, k.range[0]) : undefined;
  };
  const a = col(outer);
  const b = col(inner);
  return a !== undefined && b !== undefined && b > a ? " ".repeat(b - a) : "  ";
}
