import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/*
 * The command as users run it (`npm run promote -- ...` is `tsx scripts/promote.ts ...`),
 * file to file: both stacks hold the compose era's release (no checkout), the source
 * pins every image.
 */

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const FIXTURES = path.join(__dirname, "fixtures", "promote");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const RELEASE = fixture("release.yaml").replace(/^(#.*\n)+/, "");
const DEV = fixture("dev.yaml") + RELEASE;
const PROD = fixture("prod.yaml") + RELEASE;
const OLD = `sha256:${"4".repeat(64)}`;
const NEW = `sha256:${"f".repeat(64)}`;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-cli-"));
  fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), DEV.replace(OLD, NEW));
  fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), PROD);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [TSX, path.join(ROOT, "scripts", "promote.ts"), ...args], {
    cwd: os.tmpdir(),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const prod = () => fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");

describe("npm run promote", () => {
  it("prints the diff (exit 0), and with --write changes exactly the new digest", () => {
    const dry = cli("--from", "dev", "--to", "prod", "--dir", dir);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(
      `~ panopticon:services.model-registry.image: "ghcr.io/panopticon-ai/model-registry:1.0.0@${OLD}" -> "ghcr.io/panopticon-ai/model-registry:1.0.0@${NEW}"`,
    );
    expect(prod()).toBe(PROD);

    const wet = cli("--from", "dev", "--to", "prod", "--dir", dir, "--write");
    expect([wet.code, wet.err]).toEqual([0, ""]);
    expect(prod()).toBe(PROD.replace(OLD, NEW));
  });

  it("refuses a tag-only image with exit 1, a clear error and no file change", () => {
    fs.writeFileSync(
      path.join(dir, "Pulumi.dev.yaml"),
      DEV.replace(`model-registry:1.0.0@${OLD}`, "model-registry:1.0.1"),
    );
    const r = cli("--from", "dev", "--to", "prod", "--dir", dir, "--write");
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      'panopticon:services.model-registry.image = "ghcr.io/panopticon-ai/model-registry:1.0.1" in Pulumi.dev.yaml: expected an image pinned by digest',
    );
    expect(r.err).toContain("nothing was written");
    expect(prod()).toBe(PROD);
  });

  it("--check exits 1 while prod differs and 0 once promoted", () => {
    expect(cli("--from", "dev", "--to", "prod", "--dir", dir, "--check").code).toBe(1);
    expect(cli("--from", "dev", "--to", "prod", "--dir", dir, "--write").code).toBe(0);
    expect(cli("--from", "dev", "--to", "prod", "--dir", dir, "--check").code).toBe(0);
  });

  it.each([
    [["--from", "dev"], "required option '--to <stack>'"],
    [["--from", "dev", "--to", "prod", "--wirte"], "unknown option '--wirte'"],
    [["--from", "dev", "--to", "prod", "--write", "--check"], "cannot be used with"],
    [["--from", "dev", "--to", "dev"], "expected two different stacks"],
    [["--from", "dev", "--to", "staging"], '--to = "staging": expected a stack file'],
  ])("exits 2 on bad arguments: %j", (args, message) => {
    const r = cli(...args, "--dir", dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(prod()).toBe(PROD);
  });

  it("reads the project root's stack files when --dir is not given", () => {
    const r = cli("--from", "dev", "--to", "no-such-stack");
    expect(r.code).toBe(2);
    expect(r.err).toContain(path.join(ROOT, "Pulumi.no-such-stack.yaml"));
  });
});
