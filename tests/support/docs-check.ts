import * as fs from "fs";
import * as path from "path";
import GithubSlugger from "github-slugger";
import MarkdownIt from "markdown-it";

/*
 * The documentation's own promises, checked: every relative link in README.md and
 * docs/*.md names a file that exists and, when it has a #fragment, a heading of that
 * file as GitHub slugs it; every `npm run X` they mention is a script in package.json.
 * Run as `tsx tests/support/docs-check.ts [dir]` (github-slugger is ESM only, which jest's
 * CommonJS runtime cannot load); prints one line per problem, exit 1 when any.
 */

const md = new MarkdownIt({ html: true });

/** The Markdown files checked: README.md and every docs/*.md. */
export function docFiles(root: string): string[] {
  const docs = path.join(root, "docs");
  const pages = fs.existsSync(docs)
    ? fs
        .readdirSync(docs)
        .filter((f) => f.endsWith(".md"))
        .sort()
        .map((f) => path.join("docs", f))
    : [];
  return ["README.md", ...pages];
}

/** Heading anchors of one Markdown text, as GitHub generates them (duplicates get -1, -2). */
export function anchorsOf(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const tokens = md.parse(text, {});
  const out = new Set<string>();
  tokens.forEach((t, i) => {
    if (t.type !== "heading_open") return;
    const inline = tokens[i + 1];
    const plain = (inline.children ?? [])
      .filter((c) => c.type === "text" || c.type === "code_inline")
      .map((c) => c.content)
      .join("");
    out.add(slugger.slug(plain));
  });
  return out;
}

interface Link {
  readonly href: string;
  readonly line: number;
}

/** Every link target of one Markdown text with its line (code blocks excluded). */
export function linksOf(text: string): Link[] {
  const out: Link[] = [];
  const walk = (tokens: ReturnType<typeof md.parse>, line: number) => {
    for (const t of tokens) {
      const at = t.map ? t.map[0] + 1 : line;
      if (t.type === "link_open") out.push({ href: String(t.attrGet("href") ?? ""), line: at });
      if (t.type === "image") out.push({ href: String(t.attrGet("src") ?? ""), line: at });
      if (t.children) walk(t.children, at);
    }
  };
  walk(md.parse(text, {}), 1);
  return out;
}

/** `npm run X` and `npm test` mentions, in prose and code alike. */
export function npmScriptsOf(text: string): Array<{ name: string; line: number }> {
  const out: Array<{ name: string; line: number }> = [];
  text.split("\n").forEach((l, i) => {
    for (const m of l.matchAll(/\bnpm (?:run(?:-script)? ([A-Za-z0-9:_.-]+)|(test)\b)/g)) {
      out.push({ name: m[1] ?? m[2], line: i + 1 });
    }
  });
  return out;
}

/** Every broken promise in the project's docs, one line each ("" when none). */
export function checkDocs(root: string): string[] {
  const problems: string[] = [];
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  const scripts = new Set(Object.keys(pkg.scripts ?? {}));
  const anchors = new Map<string, Set<string>>();
  const anchorsFor = (file: string) => {
    let a = anchors.get(file);
    if (a === undefined) {
      a = anchorsOf(fs.readFileSync(file, "utf8"));
      anchors.set(file, a);
    }
    return a;
  };
  for (const rel of docFiles(root)) {
    const file = path.join(root, rel);
    const text = fs.readFileSync(file, "utf8");
    for (const { href, line } of linksOf(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//")) continue; // absolute URL
      const [target, fragment] = href.split("#", 2) as [string, string | undefined];
      const dest = target === "" ? file : path.resolve(path.dirname(file), decodeURI(target));
      if (!fs.existsSync(dest)) {
        problems.push(`${rel}:${line}: link ${href}: ${path.relative(root, dest)} does not exist`);
        continue;
      }
      if (fragment === undefined || fragment === "") continue;
      if (!dest.endsWith(".md")) {
        problems.push(`${rel}:${line}: link ${href}: #${fragment} in a file that has no headings`);
      } else if (!anchorsFor(dest).has(decodeURIComponent(fragment))) {
        problems.push(
          `${rel}:${line}: link ${href}: ${path.relative(root, dest)} has no heading #${fragment}`,
        );
      }
    }
    for (const { name, line } of npmScriptsOf(text)) {
      if (!scripts.has(name)) {
        problems.push(`${rel}:${line}: "npm run ${name}": package.json has no script "${name}"`);
      }
    }
  }
  return problems;
}

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, "..", ".."));
  const problems = checkDocs(root);
  for (const p of problems) process.stdout.write(`${p}\n`);
  process.stdout.write(`${docFiles(root).length} files checked, ${problems.length} problem(s)\n`);
  process.exit(problems.length > 0 ? 1 : 0);
}
