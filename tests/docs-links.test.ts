import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/*
 * README.md and docs/*.md: every relative link resolves (file and #heading as GitHub
 * slugs it), every `npm run X` exists in package.json, and the README stays a front
 * page. tests/support/docs-check.ts runs under tsx (github-slugger is ESM only); each twin
 * breaks one thing in a temp copy and the check must name it.
 */

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const CHECK = path.join(__dirname, "support", "docs-check.ts");

function check(dir: string) {
  const r = spawnSync(process.execPath, [TSX, CHECK, dir], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("the project's documentation", () => {
  it("has no broken relative link, anchor or npm script name", () => {
    const r = check(ROOT);
    expect([r.code, r.out, r.err]).toEqual([0, expect.stringMatching(/, 0 problem\(s\)\n$/), ""]);
    expect(r.out).toMatch(/^(\d+) files checked/);
    expect(Number(/^(\d+)/.exec(r.out)?.[1])).toBeGreaterThanOrEqual(7);
  });

  it("README.md is at most 300 lines and links one page per topic under docs/", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThanOrEqual(300);
    for (const page of [
      "production",
      "guard",
      "promotion",
      "backup",
      "configuration",
      "performance",
    ]) {
      expect(readme).toContain(`](docs/${page}.md)`);
    }
  });
});

describe("the docs check catches", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "docs-check-"));
    fs.copyFileSync(path.join(ROOT, "README.md"), path.join(dir, "README.md"));
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
    fs.cpSync(path.join(ROOT, "docs"), path.join(dir, "docs"), { recursive: true });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const edit = (file: string, from: string, to: string) => {
    const p = path.join(dir, file);
    const text = fs.readFileSync(p, "utf8");
    expect(text).toContain(from);
    fs.writeFileSync(p, text.replace(from, to));
  };

  it("the untouched copy passes (so each failure below is the twin's own)", () => {
    expect(check(dir).code).toBe(0);
  });

  it("a link to a missing file", () => {
    edit("README.md", "](docs/performance.md)", "](docs/speed.md)");
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^README\.md:\d+: link docs\/speed\.md: docs\/speed\.md does not exist$/m,
    );
  });

  it("a link to a heading that is not there", () => {
    edit("README.md", "production.md#what-pulumi-destroy-does-in-prod", "production.md#teardown");
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain("link docs/production.md#teardown: docs/production.md has no heading");
  });

  it("a renamed heading that a link from another page still names", () => {
    edit("README.md", "## What a teardown keeps (local stacks)", "## Teardown");
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^docs\/configuration\.md:\d+: link \.\.\/README\.md#what-a-teardown-keeps-local-stacks: README\.md has no heading/m,
    );
  });

  it("an npm run script that package.json lacks", () => {
    edit("docs/backup.md", "npm run backup -- --stack dev", "npm run snapshot -- --stack dev");
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^docs\/backup\.md:\d+: "npm run snapshot": package.json has no script "snapshot"$/m,
    );
  });

  it("a script removed from package.json that the docs still name", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    delete pkg.scripts.guard;
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg));
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"npm run guard": package.json has no script "guard"');
  });
});
