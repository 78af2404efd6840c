import * as path from "path";
import { importGraph, sourceFiles } from "../scripts/lib/import-cycles";

/*
 * The program's layers import downwards only: the runtimes build on the shared AWS
 * pieces, which build on the config; the config (the pure rules) knows no
 * infrastructure, and the shared AWS layer knows no runtime. Each broken import is
 * listed as `importer -> imported`.
 */

const ROOT = path.resolve(__dirname, "..");
const rel = (f: string) => path.relative(ROOT, f);

/** Folder → the folders it may not import from. */
const FORBIDDEN: Record<string, string[]> = {
  "components/config/": ["components/runtime/", "components/aws/", "components/storage/"],
  "components/aws/": ["components/runtime/"],
  "components/storage/": ["components/runtime/", "components/aws/"],
};

function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) {
    const layer = Object.keys(FORBIDDEN).find((l) => rel(from).startsWith(l));
    if (layer === undefined) continue;
    for (const to of tos) {
      if (FORBIDDEN[layer].some((f) => rel(to).startsWith(f)))
        out.push(`${rel(from)} -> ${rel(to)}`);
    }
  }
  return out.sort();
}

test("config, storage and the shared AWS layer import nothing from the layers above them", () => {
  const graph = importGraph(sourceFiles([path.join(ROOT, "components")]));
  expect(
    [...graph.keys()].filter((f) => rel(f).startsWith("components/aws/")).length,
  ).toBeGreaterThan(5);
  expect(upwardImports(graph)).toEqual([]);
});

test("its broken twin: a config file importing a runtime and an AWS file importing one are named", () => {
  const f = (p: string) => path.join(ROOT, p);
  const graph = new Map([
    [
      f("components/config/ecs-plan.ts"),
      [f("components/runtime/ecs/fargate.ts"), f("components/config/naming.ts")],
    ],
    [f("components/aws/environment.ts"), [f("components/runtime/docker/panopticon.ts")]],
    [f("components/runtime/ecs/runtime.ts"), [f("components/aws/platform.ts")]],
  ]);
  expect(upwardImports(graph)).toEqual([
    "components/aws/environment.ts -> components/runtime/docker/panopticon.ts",
    "components/config/ecs-plan.ts -> components/runtime/ecs/fargate.ts",
  ]);
});
