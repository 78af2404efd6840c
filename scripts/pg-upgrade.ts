import * as path from "path";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { runUpgrade } from "./lib/pg-upgrade-core";
import { awsCliSnapshot, runRdsUpgrade } from "./lib/pg-upgrade-rds";
import { checkStackName, loadStack, UsageError } from "./lib/stack";

/*
 * npm run pg-upgrade -- --stack dev --to 16 [--image IMAGE] [--dir DIR] [--headroom 2]
 * A Postgres major upgrade that never touches the old data (dump, restore into a
 * new volume or directory, verify, then point the stack file at it). For an AWS
 * stack: a manual RDS snapshot, then the exact change to make is printed.
 *   exit 0 done   1 failed or refused (nothing changed)   2 bad input   3 no Docker engine
 */

const program = toolCommand(
  "pg-upgrade",
  "Upgrade the Postgres major of a stack without touching the old data",
)
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .requiredOption("--to <major>", "target Postgres major, e.g. 16")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option(
    "--image <image>",
    "image of the target major (default: the stack's, if it runs that major)",
  )
  .option("--helper-image <image>", "image with sh and df (default: the stack's initImage)")
  .option(
    "--headroom <factor>",
    "free space needed per disk, as a multiple of the data's size",
    "2",
  );

run("pg-upgrade", async () => {
  const o = parseOptions<{
    stack: string;
    to: string;
    dir: string;
    image?: string;
    helperImage?: string;
    headroom: string;
  }>(program);
  if (!/^\d+$/.test(o.to) || Number(o.to) < 10 || Number(o.to) > 99) {
    throw new UsageError(`--to = ${JSON.stringify(o.to)}: expected a Postgres major such as 16`);
  }
  const headroom = Number(o.headroom);
  if (!Number.isFinite(headroom) || headroom < 1) {
    throw new UsageError(
      `--headroom = ${JSON.stringify(o.headroom)}: expected a number of at least 1`,
    );
  }
  const dir = path.resolve(o.dir);
  const settings = loadStack(checkStackName(o.stack), dir);
  if (settings.environment === "aws") {
    const plan = await runRdsUpgrade(settings, Number(o.to), {
      now: new Date(),
      snapshot: awsCliSnapshot,
      log,
    });
    process.stdout.write(`${plan.text}\n`);
    return;
  }
  const r = await runUpgrade({
    settings,
    dir,
    to: Number(o.to),
    image: o.image,
    helperImage: o.helperImage ?? settings.initImage,
    headroom,
    log,
  });
  process.stdout.write(
    [
      `pg-upgrade complete: the stack now uses ${r.newData}`,
      `backup: ${r.backupDir} (and ${r.backupDir}-dumpall)`,
      `old data, untouched: ${r.oldData}`,
      `to go back: ${r.revert}`,
      "next: pulumi preview (the guard reports the postgres container detached from the old data:",
      "that is this upgrade; --allow its URN), then pulumi up",
      "",
    ].join("\n"),
  );
});
