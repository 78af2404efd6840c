import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exitCodeOf } from "../scripts/lib/exit-codes";
import { checkStackName as dataToolName, loadStack } from "../scripts/lib/stack";
import {
  checkStackName,
  loadStackFile,
  projectDefaults,
  readStackConfig,
  STACK_NAME,
  stackNames,
} from "../scripts/lib/stack-file";
import { readStackConfig as benchStackConfig, stackFiles } from "../scripts/bench/project";
import { promote } from "../scripts/promote/run";
import { APP_IMAGES_YAML } from "./support/app-images";

/*
 * The one stack-file reader every tool uses (scripts/lib/stack-file.ts): one
 * stack-name rule for the data tools, promote and the bench, and the project's
 * Pulumi.yaml defaults under the stack's own values, as the Pulumi CLI applies them.
 */

const ROOT = path.resolve(__dirname, "..");
const STACK = `config:\n  panopticon:environment: local\n${APP_IMAGES_YAML}`;

function tmpDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-"));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe("one stack-name rule", () => {
  it.each(["dev", "prod", "prod-ecs", "dev-2.a_b", "9lives", "a".repeat(100)])(
    "accepts %s",
    (name) => {
      expect(STACK_NAME.test(name)).toBe(true);
      expect(checkStackName("--stack", name)).toBe(name);
    },
  );

  it.each([
    ["../etc", "a Pulumi stack name (letters, digits, _ . -)"],
    ["no such stack!", "a Pulumi stack name (letters, digits, _ . -)"],
    [".hidden", "a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit"],
    ["-dev", "a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit"],
    ["_dev", "a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit"],
    ["a".repeat(101), "a Pulumi stack name (letters, digits, _ . -) of at most 100 characters"],
  ])("refuses %j, naming the option, the value and the expectation", (name, expected) => {
    expect(STACK_NAME.test(name)).toBe(false);
    expect(() => checkStackName("--to", name)).toThrow(
      `--to = ${JSON.stringify(name)}: expected ${expected}`,
    );
  });

  it("every committed stack file satisfies it", () => {
    const committed = fs
      .readdirSync(ROOT)
      .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined);
    expect(committed.length).toBeGreaterThanOrEqual(3);
    expect(committed.filter((s) => !STACK_NAME.test(s))).toEqual([]);
  });

  it("a missing name is bad input (exit 2) naming the option", () => {
    expect(() => dataToolName(undefined)).toThrow("--stack is required: expected the stack name");
    let code: number | undefined;
    try {
      checkStackName("--from", "");
    } catch (e) {
      code = exitCodeOf(e);
    }
    expect(code).toBe(2);
  });
});

describe("the data tools and promote read stack files alike", () => {
  // A name the data tools' old rule let through, and promote's refused.
  const dir = tmpDir({ "Pulumi.dev.yaml": STACK, "Pulumi._dev.yaml": STACK });

  it("a data tool loads a compliant stack and refuses _dev before reading its file", () => {
    expect(loadStack("dev", dir).stack).toBe("dev");
    expect(() => loadStack("_dev", dir)).toThrow(
      '--stack = "_dev": expected a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit',
    );
  });

  it("promote refuses _dev with its own option and writes nothing", () => {
    const r = promote({ from: "_dev", to: "dev", dir, write: true });
    expect(r.exitCode).toBe(2);
    expect(r.stderr[0]).toBe(
      'promote: error: --from = "_dev": expected a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit',
    );
    expect(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")).toBe(STACK);
  });

  it("both name a missing file with the option, the value and the path", () => {
    const file = path.join(dir, "Pulumi.qa.yaml");
    expect(() => loadStack("qa", dir)).toThrow(
      `--stack = "qa": expected a stack file ${file} (not found; use --dir for the project directory)`,
    );
    expect(() => loadStackFile(dir, "qa", "--to")).toThrow(`--to = "qa": expected a stack file`);
  });

  it("the bench lists and reads only the stacks the rule accepts", () => {
    expect(stackNames(dir)).toEqual(["dev"]);
    expect(stackFiles(dir)).toEqual(["dev"]);
    expect(() => benchStackConfig(dir, "_dev", dir)).toThrow('--stacks = "_dev"');
  });
});

describe("Pulumi.yaml's defaults, under the stack's own values", () => {
  const project = (grace: number) =>
    `name: panopticon\nruntime: nodejs\nconfig:\n  stopGraceSeconds:\n    type: integer\n    default: ${grace}\n  initImage: busybox:1.37.0\n`;

  it("reach the settings when the stack sets nothing (as the CLI hands them over)", () => {
    const dir = tmpDir({ "Pulumi.yaml": project(120), "Pulumi.dev.yaml": STACK });
    expect(projectDefaults(dir)).toEqual({
      "panopticon:stopGraceSeconds": 120,
      "panopticon:initImage": "busybox:1.37.0",
    });
    expect(loadStack("dev", dir)).toMatchObject({
      stopGraceSeconds: 120,
      initImage: "busybox:1.37.0",
    });
    // The file's own block stays the file's: promote edits it, not the defaults.
    const file = loadStackFile(dir, "dev", "--from");
    expect(file.config["panopticon:stopGraceSeconds"]).toBeUndefined();
    expect(file.settings?.stopGraceSeconds).toBe(120);
  });

  it("give way to the stack's own value, and to the schema's default without a Pulumi.yaml", () => {
    const own = STACK.replace("config:\n", "config:\n  panopticon:stopGraceSeconds: 75\n");
    const dir = tmpDir({ "Pulumi.yaml": project(120), "Pulumi.dev.yaml": own });
    expect(loadStack("dev", dir).stopGraceSeconds).toBe(75);
    expect(projectDefaults(tmpDir())).toEqual({});
    expect(loadStack("dev", tmpDir({ "Pulumi.dev.yaml": STACK })).stopGraceSeconds).toBe(90);
  });

  it("a Pulumi.yaml without a name is bad input naming the key", () => {
    const dir = tmpDir({ "Pulumi.yaml": "runtime: nodejs\n", "Pulumi.dev.yaml": STACK });
    expect(() => loadStack("dev", dir)).toThrow(/Pulumi\.yaml: name = \(missing\)/);
  });

  it("the config block is checked for shape without the settings", () => {
    const dir = tmpDir({ "Pulumi.x.yaml": "config: 3\n", "Pulumi.y.yaml": "- a\n" });
    expect(() => readStackConfig(dir, "x", "--stacks")).toThrow(
      /Pulumi\.x\.yaml: "config" = 3: expected a mapping of config keys/,
    );
    expect(() => readStackConfig(dir, "y", "--stacks")).toThrow(
      /Pulumi\.y\.yaml: expected a mapping at the top level/,
    );
  });
});
