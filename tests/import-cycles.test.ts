import * as path from "path";
import { describeCycle, findCycles, importGraph, sourceFiles } from "../scripts/lib/import-cycles";

/*
 * No import cycles in the program, its components, the tools or the policy pack: two
 * files that import each other cannot be read (or changed) one at a time. Every cycle
 * found is listed, so one run names them all.
 */

const ROOT = path.resolve(__dirname, "..");
const FIXTURE = path.join(__dirname, "fixtures", "import-cycle");

describe("import cycles", () => {
  it("components/, scripts/, policy/ and index.ts import no file that imports them back", () => {
    const files = sourceFiles(
      ["components", "scripts", "policy", "index.ts"].map((r) => path.join(ROOT, r)),
    );
    expect(files.length).toBeGreaterThan(100);
    const graph = importGraph(files);
    // The graph sees relative imports: index.ts imports components.
    expect(graph.get(path.join(ROOT, "index.ts"))!.length).toBeGreaterThan(0);
    expect(findCycles(graph).map((c) => describeCycle(c, ROOT))).toEqual([]);
  });

  it("its broken twin: a three-file cycle of type-only imports is found, once, and the leaf is not in it", () => {
    const cycles = findCycles(importGraph(sourceFiles([FIXTURE])));
    expect(cycles.map((c) => describeCycle(c, FIXTURE))).toEqual([
      "first.ts -> second.ts -> third.ts -> first.ts",
    ]);
  });
});
