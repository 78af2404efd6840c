import * as fs from "fs";
import { classifyPreview, classifyState, validateAllow } from "./classify";
import { mergePreviews, parsePreviewText, parseStateExport } from "./parse";
import { renderMarkdown, renderText } from "./report";
import { dataAtRisk, InputError, Report } from "./types";
import type { ToolResult } from "../lib/cli";
import { EXIT } from "../lib/exit-codes";

export interface GuardOptions {
  /** `pulumi preview --json` outputs or event logs (the format is recognised). */
  readonly preview?: readonly string[];
  /** Engine-event logs (`pulumi preview --event-log FILE`). */
  readonly eventLog?: readonly string[];
  /** A `pulumi stack export` document. */
  readonly state?: string;
  readonly markdown?: boolean;
  /** URNs whose risk is accepted deliberately. */
  readonly allow?: readonly string[];
}

/** What to print and the exit code: 0 no data at risk, 1 data at risk, 2 unreadable input. */
export type GuardResult = ToolResult;

function readFile(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `${flag} ${JSON.stringify(file)}: cannot read the file (${code ?? (e as Error).message}): expected a readable file`,
    );
  }
}

/** The guard without its argument parser: reads the named files, returns what to print and the exit code. */
export function runGuard(o: GuardOptions): GuardResult {
  const previews = [...(o.preview ?? []), ...(o.eventLog ?? [])];
  const allow = o.allow ?? [];
  try {
    if (previews.length > 0 && o.state !== undefined) {
      throw new InputError("--preview and --state were both given: expected one of them");
    }
    if (previews.length === 0 && o.state === undefined) {
      throw new InputError(
        "no input: expected --preview FILE (and/or --event-log FILE) or --state FILE",
      );
    }
    validateAllow(allow);
    let report: Report;
    if (o.state !== undefined) {
      report = classifyState(parseStateExport(readFile(o.state, "--state"), o.state), allow);
    } else {
      const inputs = [
        ...(o.preview ?? []).map((f) => parsePreviewText(readFile(f, "--preview"), f)),
        ...(o.eventLog ?? []).map((f) => parsePreviewText(readFile(f, "--event-log"), f)),
      ];
      report = classifyPreview(mergePreviews(inputs), allow);
    }
    return {
      exitCode: dataAtRisk(report) ? EXIT.problem : EXIT.ok,
      stdout: o.markdown ? renderMarkdown(report) : renderText(report),
      stderr: "",
    };
  } catch (e) {
    if (e instanceof InputError) {
      return { exitCode: EXIT.usage, stdout: "", stderr: `guard: error: ${e.message}\n` };
    }
    throw e;
  }
}
