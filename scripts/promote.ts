import * as path from "path";
import { Option } from "commander";
import { CommandLineExit, finish, parseOptions, toolCommand, ToolResult } from "./lib/cli";
import { promote } from "./promote/run";

/*
 * npm run promote -- --from dev --to prod [--write | --check] [--from-outputs FILE] [--dir <project>]
 *
 * Copies the release (digest-pinned images, app env, and the Panopticon commit and
 * compose file they were built from) into Pulumi.<to>.yaml, never the environment.
 * When the source builds its images (panopticon:appSource), they are the ones it ran:
 * its stack outputs `images` and `release`, read with the Pulumi CLI or from a saved
 * copy (--from-outputs); otherwise what its stack file pins. It edits
 * Pulumi.<to>.yaml in place and the pull request's preview checks it.
 * Exit codes (scripts/lib/exit-codes.ts): 0 ok, 1 refused or (--check) differs, 2 bad
 * arguments or stack files, 3 the Pulumi CLI is needed and missing.
 */

function main(argv: readonly string[]): ToolResult {
  const program = toolCommand(
    "promote",
    "Promote the release (images pinned by digest, app env, service layout) from one stack to another",
  )
    .requiredOption("--from <stack>", "source stack, e.g. dev")
    .requiredOption("--to <stack>", "target stack, e.g. prod")
    .addOption(new Option("--write", "apply the change to Pulumi.<to>.yaml").conflicts("check"))
    .option("--check", "exit 1 when the target differs from the source (for CI)")
    .option(
      "--from-outputs <file>",
      "a saved `pulumi stack output --stack <from> --json`: images and release (instead of asking Pulumi)",
    )
    .option("--dir <path>", "directory holding the stack files", path.resolve(__dirname, ".."))
    .allowExcessArguments(false);
  let o;
  try {
    o = parseOptions<{
      from: string;
      to: string;
      write?: boolean;
      check?: boolean;
      fromOutputs?: string;
      dir: string;
    }>(program, argv);
  } catch (e) {
    if (e instanceof CommandLineExit) return { exitCode: e.exitCode, stdout: "", stderr: "" };
    throw e;
  }
  const result = promote({
    from: o.from,
    to: o.to,
    dir: o.dir,
    write: o.write,
    check: o.check,
    fromOutputs: o.fromOutputs,
  });
  const lines = (ls: readonly string[]) => ls.map((l) => `${l}\n`).join("");
  return { exitCode: result.exitCode, stdout: lines(result.stdout), stderr: lines(result.stderr) };
}

finish(main(process.argv.slice(2)));
