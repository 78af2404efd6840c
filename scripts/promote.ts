import * as path from "path";
import { Command, CommanderError, Option } from "commander";
import { promote } from "./promote/run";
import { EXIT } from "./promote/stack-file";

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

function main(argv: readonly string[]): number {
  const program = new Command()
    .name("promote")
    .description(
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
    fromOutputs?: string;
    dir: string;
  }>();
  const result = promote({
    from: o.from,
    to: o.to,
    dir: o.dir,
    write: o.write,
    check: o.check,
    fromOutputs: o.fromOutputs,
  });
  for (const line of result.stdout) process.stdout.write(line + "\n");
  for (const line of result.stderr) process.stderr.write(line + "\n");
  return result.exitCode;
}

process.exitCode = main(process.argv.slice(2));
