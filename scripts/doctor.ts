import * as path from "path";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { runDoctor } from "./lib/doctor-core";
import { checkStackName, loadStack } from "./lib/stack";
import { EXIT } from "./lib/exit-codes";

/*
 * npm run doctor -- --stack dev [--dir DIR] [--helper-image IMAGE]
 * Checks, per data set of a local stack, that the container mounts the data the
 * stack names exactly where the service's persist variable points, whether it
 * holds data, and that Postgres's PG_VERSION is the stack's major (volume mode and
 * remote Docker hosts included, through a read-only helper container).
 * It also counts the rows of every known table and the documents of every ChromaDB
 * collection, and names the service that reads each (components/stores.ts).
 *   exit 0 every check passed   1 a problem was found   2 bad input
 *   3 no Docker engine, or an AWS stack (scripts/lib/exit-codes.ts)
 */

const program = toolCommand("doctor", "Check that each service of a local stack sees its data")
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option(
    "--helper-image <image>",
    "image with sh used to look inside (default: the stack's initImage)",
  );

run("doctor", async () => {
  const opts = parseOptions<{ stack: string; dir: string; helperImage?: string }>(program);
  const settings = loadStack(checkStackName(opts.stack), path.resolve(opts.dir));
  const r = await runDoctor({ settings, helperImage: opts.helperImage ?? settings.initImage });
  for (const f of r.findings) {
    process.stdout.write(`${f.ok ? "ok     " : "PROBLEM"} ${f.dataSet}: ${f.message}\n`);
  }
  process.stdout.write(
    r.problems > 0
      ? `doctor: stack ${settings.stack}: ${r.problems} problem(s)\n`
      : r.unchecked.length > 0
        ? `doctor: stack ${settings.stack}: no problem found, but not checked: ${r.unchecked.join("; ")}\n`
        : `doctor: stack ${settings.stack}: every service sees its data\n`,
  );
  if (r.problems > 0) {
    log("doctor: fix the problems above before the next pulumi up");
    return EXIT.problem;
  }
});
