import * as fs from "fs";
import * as path from "path";
import { Document, parseDocument } from "yaml";
import {
  ConfigError,
  parseSettings,
  rawFromStackFile,
  Settings,
} from "../../components/config/settings";
import { EXIT, toolError, UsageError } from "../lib/exit-codes";
import { PROMOTABLE } from "./promotable";
import { parseRelease } from "./release";

/** Pulumi stack names: letters, digits, `-`, `_`, `.` (no paths). */
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export function checkStackName(option: string, value: string): void {
  if (!STACK_NAME.test(value)) {
    throw new UsageError(
      `${option} ${JSON.stringify(value)}: expected a stack name (letters, digits, - _ .), e.g. dev or prod`,
    );
  }
}

export function stackFileName(stack: string): string {
  return `Pulumi.${stack}.yaml`;
}

/** One committed stack file, parsed and validated. */
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

/** How parseStackText checks a file's settings. */
export interface StackCheck {
  /** Config values assumed for the check only. @default none */
  readonly assume?: Readonly<Record<string, unknown>>;
  /** `"after-edit"`: no settings check now; the edited text gets one. @default "now" */
  readonly settings?: "now" | "after-edit";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Parses stack-file text. Throws a UsageError (or, with `where.exitCode` 1, a RefusedError) naming the file and
 * every YAML problem, or the config keys that fail the settings schema.
 *
 * `check.assume` holds config values used for the settings check only (never put in
 * `config`): a source stack is checked with the release it deployed, not against a
 * checkout that may be at another commit or not here. `check.settings: "after-edit"`
 * leaves the settings check to the edited file: a target that gets its first release
 * gets its images with it, so before the edit it can only be incomplete.
 */
export function parseStackText(
  text: string,
  where: { stack: string; fileName: string; path: string; baseDir: string; exitCode?: 1 | 2 },
  check: StackCheck = {},
): StackFile {
  const code = where.exitCode ?? EXIT.usage;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw toolError(
      code,
      `${where.fileName} is not valid YAML:\n` +
        doc.errors.map((e) => `  - ${e.message}`).join("\n"),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw toolError(code, `${where.fileName} cannot be read: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) data = {};
  if (!isPlainObject(data)) {
    throw toolError(
      code,
      `${where.fileName}: expected a mapping at the top level (config: ...), found ${JSON.stringify(data)}`,
    );
  }
  const config = data.config ?? {};
  if (!isPlainObject(config)) {
    throw toolError(
      code,
      `${where.fileName}: config = ${JSON.stringify(config)}: expected a mapping of config keys`,
    );
  }
  // The release block has its own check (release.ts), with promote's messages; the
  // settings then validate it with the rest.
  const rest = { ...check.assume, ...config };
  if (config[PROMOTABLE.releaseKey] !== undefined) {
    parseRelease(rest[PROMOTABLE.releaseKey], `${where.fileName}: ${PROMOTABLE.releaseKey}`, code);
  }
  if (check.settings === "after-edit") return { ...where, text, doc, config };
  let settings: Settings;
  try {
    settings = parseSettings(rawFromStackFile(rest), {
      stack: where.stack,
      baseDir: where.baseDir,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      throw toolError(code, `${where.fileName}: ${e.message}`);
    }
    throw e;
  }
  return { ...where, text, doc, config, settings };
}

/** The text of `<dir>/Pulumi.<stack>.yaml`; a missing or unreadable file is bad input. */
export function readStackText(dir: string, stack: string, option: string) {
  const fileName = stackFileName(stack);
  const file = path.join(dir, fileName);
  try {
    return { fileName, file, text: fs.readFileSync(file, "utf8") };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === "ENOENT"
        ? "the file does not exist (expected the committed stack file of that stack)"
        : `cannot be read (${err.code ?? err.message})`;
    throw new UsageError(`${option} ${stack}: ${file}: ${why}`);
  }
}

/** Reads and validates `<dir>/Pulumi.<stack>.yaml` (`check`: see parseStackText). */
export function loadStackFile(
  dir: string,
  stack: string,
  option: string,
  check: StackCheck = {},
): StackFile {
  const { fileName, file, text } = readStackText(dir, stack, option);
  return parseStackText(text, { stack, fileName, path: file, baseDir: dir }, check);
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
