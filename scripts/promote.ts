import * as path from "path";
import { Command, CommanderError, Option } from "commander";
import { promote } from "./promote/run";
import { EXIT } from "./promote/stack-file";

/*
 * npm run promote -- --from dev --to prod [--write | --check] [--dir <project>]
 *
 * Copies the release (digest-pinned images and app env) from one committed stack
 * file into another, never the environment. Needs no Pulumi CLI or credentials:
 * it edits Pulumi.<to>.yaml in place and the pull request's preview checks it.
 * Exit codes: 0 ok, 1 refused, 2 bad arguments or stack files, 3 (--check) differs.
 */

function main(argv: readonly string[]): number {
  const program = new Command()
    .name("promote")
    .description(
      "Promote the release (images pinned by digest, app env) from one stack file to another",
    )
    .requiredOption("--from <stack>", "source stack, e.g. dev")
    .requiredOption("--to <stack>", "target stack, e.g. prod")
    .addOption(new Option("--write", "apply the change to Pulumi.<to>.yaml").conflicts("check"))
    .option("--check", "exit 3 when the target differs from the source (for CI)")
    .option("--dir <path>", "directory holding the stack files", path.resolve(__dirname, ".."))
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .allowExcessArguments(false);
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === "commander.helpDisplayed" || e.code === "commander.version"
        ? EXIT.ok
        : EXIT.badInput;
    }
    throw e;
  }
  const o = program.opts<{
    from: string;
    to: string;
    write?: boolean;
    check?: boolean;
    dir: string;
  }>();
  const result = promote({ from: o.from, to: o.to, dir: o.dir, write: o.write, check: o.check });
  for (const line of result.stdout) process.stdout.write(line + "\n");
  for (const line of result.stderr) process.stderr.write(line + "\n");
  return result.exitCode;
}

process.exitCode = main(process.argv.slice(2));
