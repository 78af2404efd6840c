import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/*
 * Import cycles among this project's own TypeScript files: a module graph over
 * relative imports (type-only imports and re-exports included, since a cycle of
 * types is still two files that cannot be read apart), and every cycle in it.
 * tests/import-cycles.test.ts holds the program, the tools and the policy pack to none.
 */

const EXTENSIONS = [".ts", ".mts", ".tsx", "/index.ts"];

/** Every .ts/.mts file under `roots` (files or directories), node_modules left out. */
export function sourceFiles(roots: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) {
        if (e !== "node_modules") walk(path.join(p, e));
      }
    } else if (/\.m?tsx?$/.test(p) && !p.endsWith(".d.ts")) {
      out.push(path.resolve(p));
    }
  };
  for (const r of roots) walk(r);
  return out;
}

/** The file a relative specifier names, or undefined (a package, JSON, a missing file). */
function resolveRelative(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  if (/\.m?tsx?$/.test(base) && fs.existsSync(base)) return base;
  for (const ext of EXTENSIONS) {
    if (fs.existsSync(base + ext)) return base + ext;
  }
  return undefined;
}

/** File → the project files it imports (relative imports, `export … from`, `require`, `import()`). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles
      .map((f) => resolveRelative(file, f.fileName))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/**
 * Every elementary cycle reachable in the graph, each once, as the files in import
 * order starting from its smallest path (a depth-first search per strongly
 * connected start; the project's graph is small).
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const seen = new Set<string>();
  const cycles: string[][] = [];
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    // Cycles through a smaller node were found from that node.
    const stack: string[] = [start];
    const onPath = new Set<string>([start]);
    const walk = (node: string) => {
      for (const next of graph.get(node) ?? []) {
        if (next === start) {
          const key = stack.join("\n");
          if (!seen.has(key)) {
            seen.add(key);
            cycles.push([...stack]);
          }
        } else if (next > start && !onPath.has(next) && graph.has(next)) {
          stack.push(next);
          onPath.add(next);
          walk(next);
          onPath.delete(next);
          stack.pop();
        }
      }
    };
    walk(start);
  }
  return cycles;
}

/** "a.ts -> b.ts -> a.ts", paths relative to `dir`. */
export function describeCycle(cycle: readonly string[], dir: string): string {
  return [...cycle, cycle[0]].map((f) => path.relative(dir, f)).join(" -> ");
}
