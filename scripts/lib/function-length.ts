import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/*
 * The length of every function in this project's own TypeScript files, so a test can
 * hold the house rule (no function over ~80 lines: a longer one is several steps that
 * deserve names). A function's length runs from its first line (the name, or the
 * arrow's parameters) to its closing brace; a function nested in another counts for
 * both, since the outer one is read as a whole.
 */

/** One function of a file, named as a reader would look for it. */
export interface FunctionLength {
  /** Path relative to the root given to functionLengths. */
  readonly file: string;
  /** 1-based line of its first character. */
  readonly line: number;
  /** `runRestore`, `Class.method`, `constructor of Class`, or `(anonymous)`. */
  readonly name: string;
  readonly lines: number;
}

function nameOfNode(n: ts.Node | undefined, sf: ts.SourceFile): string | undefined {
  if (n === undefined) return undefined;
  if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n) || ts.isStringLiteral(n)) return n.text;
  return n.getText(sf);
}

/** The name a function is known by: its own, or that of what it is assigned to. */
function functionName(fn: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  const cls = (n: ts.Node) =>
    ts.isClassLike(n.parent) ? (nameOfNode(n.parent.name, sf) ?? "(class)") : undefined;
  if (ts.isConstructorDeclaration(fn)) return `constructor of ${cls(fn) ?? "(class)"}`;
  const own = nameOfNode(fn.name, sf);
  if (own !== undefined) {
    const owner = ts.isMethodDeclaration(fn) || ts.isAccessor(fn) ? cls(fn) : undefined;
    return owner === undefined ? own : `${owner}.${own}`;
  }
  const p = fn.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) {
    return nameOfNode(p.name, sf) ?? "(anonymous)";
  }
  return "(anonymous)";
}

/** Every function, method, constructor, accessor and arrow of one file. */
export function fileFunctionLengths(file: string, root: string): FunctionLength[] {
  const text = fs.readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: FunctionLength[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && "body" in n && n.body !== undefined) {
      const fn = n as ts.FunctionLikeDeclaration;
      const first = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(fn.getEnd()).line;
      out.push({
        file: path.relative(root, file),
        line: first + 1,
        name: functionName(fn, sf),
        lines: last - first + 1,
      });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The functions of `files` longer than `limit` lines, longest first. */
export function longFunctions(
  files: readonly string[],
  root: string,
  limit: number,
): FunctionLength[] {
  return files
    .flatMap((f) => fileFunctionLengths(f, root))
    .filter((f) => f.lines > limit)
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

/** "scripts/lib/restore-core.ts:40 runRestore (210 lines)". */
export function describeFunction(f: FunctionLength): string {
  return `${f.file}:${f.line} ${f.name} (${f.lines} lines)`;
}
