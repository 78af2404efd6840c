import * as fs from "fs";
import * as path from "path";
import { Document, parseDocument } from "yaml";
import {
  ConfigError,
  parseSettings,
  rawFromStackFile,
  Settings,
} from "../../components/config/settings";
import { EXIT, toolError, UsageError } from "./exit-codes";

/*
 * The one reader of stack files for every tool (the data tools, promote, the bench):
 * `Pulumi.<stack>.yaml` and the config defaults of `Pulumi.yaml`, read without the
 * Pulumi CLI and checked with the program's own settings code, so a tool sees the
 * names and values the program would. One stack-name rule, one set of messages, each
 * naming the option, the value and what was expected.
 */

/**
 * Stack names: 1 to 100 letters, digits, `_`, `.`, `-`, starting with a letter or a
 * digit. Pulumi's own rule without a leading `.`, `_` or `-`, so a name is never a
 * path (`..`), a hidden file or an option.
 */
export const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const EXPECTED_NAME = "a Pulumi stack name (letters, digits, _ . -)";

/** What a stack name was expected to be, told for the way `value` misses it. */
function nameExpectation(value: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) return EXPECTED_NAME;
  if (value.length > 100) return `${EXPECTED_NAME} of at most 100 characters`;
  return `${EXPECTED_NAME} starting with a letter or digit`;
}

/** The stack name `option` was given, or a UsageError naming the option and the value. */
export function checkStackName(option: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new UsageError(`${option} is required: expected the stack name, e.g. ${option} dev`);
  }
  if (!STACK_NAME.test(value)) {
    throw new UsageError(
      `${option} = ${JSON.stringify(value)}: expected ${nameExpectation(value)}`,
    );
  }
  return value;
}

export function stackFileName(stack: string): string {
  return `Pulumi.${stack}.yaml`;
}

/** The stacks that have a stack file in `dir` (names the rule accepts), sorted. */
export function stackNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined && STACK_NAME.test(s))
    .sort();
}

/** How messages name a file: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The text of `<dir>/Pulumi.<stack>.yaml`; a bad name or a missing file is bad input. */
export function readStackText(dir: string, stack: string, option: string) {
  checkStackName(option, stack);
  const fileName = stackFileName(stack);
  const file = path.join(path.resolve(dir), fileName);
  try {
    return { fileName, file, text: fs.readFileSync(file, "utf8") };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === "ENOENT"
        ? "not found; use --dir for the project directory"
        : `cannot be read: ${err.code ?? err.message}`;
    throw new UsageError(
      `${option} = ${JSON.stringify(stack)}: expected a stack file ${file} (${why})`,
    );
  }
}

/** The parsed YAML of a file, or a ToolError naming the file and every YAML problem. */
function parseYamlText(
  text: string,
  label: string,
  code: 1 | 2,
): { doc: Document.Parsed; data: unknown } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw toolError(
      code,
      `${label} is not valid YAML:\n` + doc.errors.map((e) => `  - ${e.message}`).join("\n"),
    );
  }
  try {
    return { doc, data: doc.toJS({ maxAliasCount: 1000 }) ?? {} };
  } catch (e) {
    throw toolError(code, `${label} cannot be read: ${(e as Error).message}`);
  }
}

/** The `config:` block of a parsed stack file (empty when it has none). */
function configBlock(data: unknown, label: string, code: 1 | 2): Record<string, unknown> {
  if (!isPlainObject(data)) {
    throw toolError(
      code,
      `${label}: expected a mapping at the top level (config: ...), found ${JSON.stringify(data)}`,
    );
  }
  const config = data.config ?? {};
  if (!isPlainObject(config)) {
    throw toolError(
      code,
      `${label}: "config" = ${JSON.stringify(config)}: expected a mapping of config keys`,
    );
  }
  return config;
}

/** A project file, `Pulumi.yaml`: its name and the config defaults it declares. */
export interface ProjectFile {
  readonly file: string;
  readonly doc: Record<string, unknown>;
  readonly name: string;
  /** `config.<key>.default` (or a bare value), as `<project>:<key>` → value. */
  readonly configDefaults: Record<string, unknown>;
}

/** Reads `<dir>/Pulumi.yaml`; a missing or malformed file is bad input. */
export function readProjectFile(dir: string): ProjectFile {
  const file = path.join(path.resolve(dir), "Pulumi.yaml");
  if (!fs.existsSync(file)) throw new UsageError(`${file}: project file not found`);
  const { data } = parseYamlText(fs.readFileSync(file, "utf8"), displayPath(file), EXIT.usage);
  if (!isPlainObject(data) || typeof data.name !== "string") {
    throw new UsageError(`${file}: name = (missing): expected the project name`);
  }
  const configDefaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(isPlainObject(data.config) ? data.config : {})) {
    const key = k.includes(":") ? k : `${data.name}:${k}`;
    if (isPlainObject(v) && "default" in v) configDefaults[key] = v.default;
    else if (!isPlainObject(v)) configDefaults[key] = v;
  }
  return { file, doc: data, name: data.name, configDefaults };
}

/**
 * The config defaults the Pulumi CLI hands every stack of the project in `dir`, or
 * none when `dir` holds no Pulumi.yaml (a tool pointed at a directory of stack files).
 */
export function projectDefaults(dir: string): Record<string, unknown> {
  return fs.existsSync(path.join(path.resolve(dir), "Pulumi.yaml"))
    ? readProjectFile(dir).configDefaults
    : {};
}

/** One stack file, parsed and validated. */
export interface StackFile {
  readonly stack: string;
  readonly fileName: string;
  readonly path: string;
  /** The exact bytes read (as UTF-8 text); edits splice into this. */
  readonly text: string;
  readonly doc: Document.Parsed;
  /** The `config:` block as plain data (empty when the file has none). */
  readonly config: Record<string, unknown>;
  /** Absent when the check was left to the edited file (StackCheck). */
  readonly settings?: Settings;
}

/** How a stack file's settings are checked. */
export interface StackCheck {
  /** Config values assumed for the check only (over Pulumi.yaml's defaults). @default none */
  readonly assume?: Readonly<Record<string, unknown>>;
  /** `"after-edit"`: no settings check now; the edited text gets one. @default "now" */
  readonly settings?: "now" | "after-edit";
  /**
   * A tool's own check before the settings see the config: `config` is the file's own
   * block, `merged` what the settings will see. @default none
   */
  readonly inspect?: (
    config: Record<string, unknown>,
    merged: Record<string, unknown>,
    label: string,
    code: 1 | 2,
  ) => void;
}

/** Where stack-file text came from; `label` names it in messages. @default label: the path */
export interface StackSource {
  readonly stack: string;
  readonly fileName: string;
  readonly path: string;
  readonly baseDir: string;
  readonly label?: string;
  /** The exit code of a problem found. @default 2 (bad input) */
  readonly exitCode?: 1 | 2;
}

/** Settings of a config map over the project's defaults; a ConfigError names the file. */
function settingsOf(
  config: Record<string, unknown>,
  where: StackSource,
  label: string,
  code: 1 | 2,
): Settings {
  try {
    return parseSettings(rawFromStackFile(config), { stack: where.stack, baseDir: where.baseDir });
  } catch (e) {
    if (e instanceof ConfigError) throw toolError(code, `${label}: ${e.message}`);
    throw e;
  }
}

/**
 * Parses stack-file text. Throws a UsageError (or, with `where.exitCode` 1, a
 * RefusedError) naming the file and every YAML problem, or the config keys that fail
 * the settings schema. The settings see what the Pulumi CLI hands the program: the
 * project's config defaults, then `check.assume`, then the file's own values.
 *
 * `check.assume` holds config values used for the check only (never put in `config`):
 * promote checks a source stack with the release it deployed. `check.settings:
 * "after-edit"` leaves the check to the edited file.
 */
export function parseStackText(
  text: string,
  where: StackSource,
  check: StackCheck = {},
): StackFile {
  const code = where.exitCode ?? EXIT.usage;
  const label = where.label ?? displayPath(where.path);
  const { doc, data } = parseYamlText(text, label, code);
  const config = configBlock(data, label, code);
  const file = {
    stack: where.stack,
    fileName: where.fileName,
    path: where.path,
    text,
    doc,
    config,
  };
  const merged = { ...projectDefaults(where.baseDir), ...check.assume, ...config };
  check.inspect?.(config, merged, label, code);
  if (check.settings === "after-edit") return file;
  return { ...file, settings: settingsOf(merged, where, label, code) };
}

/** Reads and validates `<dir>/Pulumi.<stack>.yaml` (`check`: see parseStackText). */
export function loadStackFile(
  dir: string,
  stack: string,
  option: string,
  check: StackCheck = {},
): StackFile {
  const { fileName, file, text } = readStackText(dir, stack, option);
  return parseStackText(text, { stack, fileName, path: file, baseDir: path.resolve(dir) }, check);
}

/**
 * The `config:` block of a stack file as plain data, read before (and without) its
 * settings check; empty when the file is no YAML map (loadStackFile names that).
 */
export function peekConfig(dir: string, stack: string, option: string): Record<string, unknown> {
  const { text } = readStackText(dir, stack, option);
  let data: unknown;
  try {
    data = parseDocument(text).toJS({ maxAliasCount: 1000 });
  } catch {
    return {};
  }
  return isPlainObject(data) && isPlainObject(data.config) ? data.config : {};
}

/** The `config:` block of a stack file, its YAML and shape checked (no settings check). */
export function readStackConfig(
  dir: string,
  stack: string,
  option: string,
): Record<string, unknown> {
  const { file, text } = readStackText(dir, stack, option);
  const label = displayPath(file);
  return configBlock(parseYamlText(text, label, EXIT.usage).data, label, EXIT.usage);
}
