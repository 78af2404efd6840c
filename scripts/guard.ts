import { Command, CommanderError, Option } from "commander";
import { EXIT, GuardResult, runGuard } from "./guard/run";

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

function main(argv: readonly string[]): GuardResult {
  const program = new Command()
    .name("npm run guard --")
    .description("Tell which stateful resources a Pulumi preview or destroy would put at risk.")
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
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      const help = e.code === "commander.helpDisplayed" || e.code === "commander.version";
      return { exitCode: help ? EXIT.safe : EXIT.badInput, stdout: "", stderr: "" };
    }
    throw e;
  }
  return runGuard(program.opts());
}

let result: GuardResult;
try {
  result = main(process.argv.slice(2));
} catch (e) {
  // A bug must not pass for a verdict: report it without exit code 0 or 1.
  result = {
    exitCode: EXIT.badInput,
    stdout: "",
    stderr: `guard: internal error (no verdict): ${(e as Error).stack ?? String(e)}\n`,
  };
}
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
