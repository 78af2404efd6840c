import { isMap, isScalar, Node, Pair, parseDocument, YAMLMap } from "yaml";
import { applySplices, EditError, renderScalar } from "../promote/yaml-splice";

/*
 * Sets scalar settings in a stack file's text by splicing into the byte ranges
 * the `yaml` library's Document reports, as scripts/promote/yaml-edit.ts does:
 * comments, order, quoting and blank lines stay byte for byte. A missing key is
 * added at the end of the deepest block mapping that exists, indented like its
 * siblings.
 */

export { EditError };

export interface ScalarSet {
  /** Keys from the document root, e.g. ["config", "panopticon:volumeNames", "postgres"]. */
  readonly path: readonly string[];
  readonly value: string;
}

const keyOf = (p: Pair): string => (isScalar(p.key) ? String(p.key.value) : String(p.key));

function column(text: string, pos: number): number {
  return pos - (text.lastIndexOf("\n", pos - 1) + 1);
}

export function setScalars(text: string, sets: readonly ScalarSet[]): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  let out = text;
  // One edit per pass: each later edit is located in the text the earlier ones made.
  for (const s of sets) {
    const doc = parseDocument(out);
    if (doc.errors.length > 0) throw new EditError(`not valid YAML: ${doc.errors[0].message}`);
    const what = s.path.join(".");
    let map: YAMLMap | undefined = isMap(doc.contents) ? doc.contents : undefined;
    let depth = 0;
    let pair: Pair | undefined;
    while (map !== undefined && depth < s.path.length) {
      pair = map.items.find((p) => keyOf(p as Pair) === s.path[depth]) as Pair | undefined;
      if (pair === undefined) break;
      depth += 1;
      if (depth < s.path.length) {
        if (!isMap(pair.value))
          throw new EditError(`${what}: ${s.path.slice(0, depth).join(".")} is not a mapping`);
        map = pair.value;
      }
    }
    if (depth === s.path.length && pair !== undefined) {
      const v = pair.value as Node | null;
      if (!isScalar(v) || !v.range)
        throw new EditError(`${what}: expected a plain value to replace`);
      const text2 = renderScalar(s.value, v.type, !!map?.flow);
      out = applySplices(out, [{ start: v.range[0], end: v.range[1], text: text2 }]);
      continue;
    }
    if (map === undefined || map.flow || map.items.length === 0) {
      throw new EditError(`${what}: cannot add it to this layout; set it by hand`);
    }
    const first = map.items[0] as Pair;
    const last = map.items[map.items.length - 1] as Pair;
    const firstKey = first.key as Node;
    const end = ((last.value as Node | null)?.range ?? (last.key as Node).range)?.[2];
    if (!firstKey.range || end === undefined) throw new EditError(`${what}: cannot locate it`);
    const indent = column(out, firstKey.range[0]);
    const rest = s.path.slice(depth);
    const lines = rest.map((k, i) => {
      const pad = " ".repeat(indent + 2 * i);
      return i === rest.length - 1
        ? `${pad}${k}: ${renderScalar(s.value, undefined, false)}`
        : `${pad}${k}:`;
    });
    const at = end > 0 && out[end - 1] === "\n" ? end : out.indexOf("\n", end) + 1 || out.length;
    const prefix = at === out.length && !out.endsWith("\n") ? eol : "";
    out = applySplices(out, [{ start: at, end: at, text: prefix + lines.join(eol) + eol }]);
  }
  return out;
}
