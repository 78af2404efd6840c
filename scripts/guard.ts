import { Option } from "commander";
import { runGuard } from "./guard/run";
import { CommandLineExit, finish, parseOptions, toolCommand, ToolResult } from "./lib/cli";
import { EXIT } from "./lib/exit-codes";

/*
 * npm run guard -- --preview FILE [--preview FILE ...] [--event-log FILE] [--markdown] [--allow URN ...]
 * npm run guard -- --state FILE [--markdown] [--allow URN ...]
 *
 * Tells, for every stateful resource, whether a preview (or a destroy) keeps,
 * updates, replaces, deletes, retains or is blocked from touching it.
 *   exit 0  no data at risk
 *   exit 1  data at risk (or the preview is incomplete, so safety cannot be shown)
 *   exit 2  unreadable input or bad arguments; no verdict is printed
 */

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function main(argv: readonly string[]): ToolResult {
  const program = toolCommand(
    "npm run guard --",
    "Tell which stateful resources a Pulumi preview or destroy would put at risk.",
  )
    .addOption(
      new Option(
        "--preview <file>",
        "`pulumi preview --json` output or an --event-log file (repeat to give both)",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        "--event-log <file>",
        "engine events written by `pulumi preview --event-log FILE`",
      ).argParser(collect),
    )
    .option("--state <file>", "`pulumi stack export` output: report what `pulumi destroy` would do")
    .option("--markdown", "print the report as a pull-request comment", false)
    .addOption(
      new Option(
        "--allow <urn>",
        "accept the risk to this resource deliberately (repeatable)",
      ).argParser(collect),
    )
    .allowExcessArguments(false);
  try {
    return runGuard(parseOptions(program, argv));
  } catch (e) {
    if (e instanceof CommandLineExit) return { exitCode: e.exitCode, stdout: "", stderr: "" };
    throw e;
  }
}

let result: ToolResult;
try {
  result = main(process.argv.slice(2));
} catch (e) {
  // A bug must not pass for a verdict: report it without exit code 0 or 1.
  result = {
    exitCode: EXIT.usage,
    stdout: "",
    stderr: `guard: internal error (no verdict): ${(e as Error).stack ?? String(e)}\n`,
  };
}
finish(result);
