import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  describeFunction,
  fileFunctionLengths,
  longFunctions,
} from "../scripts/lib/function-length";
import { sourceFiles } from "../scripts/lib/import-cycles";

/*
 * The house rule "no function over ~80 lines", held for the program, its components,
 * the tools and the policy pack. A longer function is several steps that deserve
 * names; split it (STYLE.md: "A constructor past about 80 lines is usually two
 * components"). Every function over the limit is listed, so one run names them all.
 */

const ROOT = path.resolve(__dirname, "..");
const LIMIT = 80;

/**
 * Functions still over the limit, each in files another piece of work owns and is
 * splitting. An entry leaves the list when its function is split: the second test
 * fails on an entry that no longer needs it, so the list only shrinks.
 */
const ALLOWED: ReadonlyArray<{ file: string; name: string; owner: string }> = [];

const allowed = (f: { file: string; name: string }) =>
  ALLOWED.some((a) => a.file === f.file && a.name === f.name);

describe(`no function over ${LIMIT} lines`, () => {
  const files = sourceFiles(
    ["components", "scripts", "policy", "index.ts"].map((r) => path.join(ROOT, r)),
  );
  const long = longFunctions(files, ROOT, LIMIT);

  it("in components/, scripts/, policy/ and index.ts, but for the allow-list", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(long.filter((f) => !allowed(f)).map(describeFunction)).toEqual([]);
  });

  it("the allow-list names only functions still over the limit", () => {
    const stale = ALLOWED.filter((a) => !long.some((f) => f.file === a.file && f.name === a.name));
    expect(stale.map((a) => `${a.file} ${a.name}: no longer over ${LIMIT} lines`)).toEqual([]);
  });
});

describe("its broken twin: a file with long and short functions of every kind", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "function-length-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`);
  const file = path.join(dir, "twin.ts");
  fs.writeFileSync(
    file,
    [
      "export function long() {", // 1 + 79 + 1 = 81 lines
      ...body(79),
      "}",
      "export function fits() {", // 80 lines: at the limit, allowed
      ...body(78),
      "}",
      "export const arrow = () => {",
      ...body(81),
      "};",
      "class Box {",
      "  constructor() {",
      ...body(85),
      "  }",
      "  method() {",
      "    return [1].map((x) => {",
      ...body(90),
      "      return x;",
      "    });",
      "  }",
      "}",
      "export { Box };",
      "",
    ].join("\n"),
  );

  it("names each long one, with its line and length; the one at the limit is left out", () => {
    expect(longFunctions([file], dir, LIMIT).map(describeFunction)).toEqual([
      "twin.ts:333 Box.method (95 lines)",
      "twin.ts:334 (anonymous) (93 lines)",
      "twin.ts:246 constructor of Box (87 lines)",
      "twin.ts:162 arrow (83 lines)",
      "twin.ts:1 long (81 lines)",
    ]);
  });

  it("sees every function, short ones included", () => {
    expect(fileFunctionLengths(file, dir).map((f) => `${f.name}:${f.lines}`)).toEqual([
      "long:81",
      "fits:80",
      "arrow:83",
      "constructor of Box:87",
      "Box.method:95",
      "(anonymous):93",
    ]);
  });
});
