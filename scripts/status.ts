import * as path from "path";
import { parseOptions, run, toolCommand } from "./lib/cli";
import { assertEngine } from "./lib/docker";
import { assertLocal, checkStackName, loadStack } from "./lib/stack";
import { stackStatus } from "./lib/status";
import { renderStatus } from "./lib/status-render";

/*
 * npm run status -- --stack dev [--json] [--dir <path>]
 * One screen for a local stack: each service's container, state, health and image;
 * each data set's place and size, what a teardown does to it, and its newest backup.
 * Reads only: docker inspect/df, the stack file, the backup manifests.
 */

const program = toolCommand("status", "Show a local Panopticon stack's services and data")
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the services and data")
  .option("--dir <path>", "project directory holding the stack files and backups/", process.cwd())
  .option("--json", "machine-readable output (one JSON document on stdout)");

run("status", async () => {
  const opts = parseOptions<{ stack: string; dir: string; json?: boolean }>(program);
  const stack = checkStackName(opts.stack);
  const dir = path.resolve(opts.dir);
  const settings = loadStack(stack, dir);
  assertLocal(settings, "status");
  await assertEngine();
  const status = await stackStatus(settings, dir);
  process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
});
