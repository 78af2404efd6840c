import * as fs from "fs";
import * as path from "path";
import { parsePreviewText } from "./guard/parse";
import { InputError } from "./guard/types";
import { dataSetPresent, defaultBackupDir, runBackup } from "./lib/backup-core";
import { log, parseOptions, run, toolCommand } from "./lib/cli";
import { assertEngine } from "./lib/docker";
import { imageChanges } from "./lib/pre-change";
import { checkStackName, loadStack, UsageError } from "./lib/stack";

/*
 * npm run backup:before-change -- --stack dev --preview preview.json [--dir DIR] [--out DIR]
 *
 * Before `pulumi up`: when the preview (`pulumi preview --json`, or an
 * --event-log file) gives a data-bearing service of a local stack another image,
 * back up those data sets (and the Postgres dump) and print the backup's path on
 * stdout. Prints nothing on stdout when no such service changes. AWS stacks are
 * snapshotted by the promote workflow instead.
 *   exit 0 done (or nothing to do)   1 the backup failed: do not run up   2 bad input
 */

const program = toolCommand(
  "backup:before-change",
  "Back up the data of services whose image a preview changes",
)
  .requiredOption("--stack <name>", "stack whose Pulumi.<stack>.yaml names the data")
  .requiredOption("--preview <file>", "`pulumi preview --json` output or an --event-log file")
  .option("--dir <path>", "project directory holding the stack files", process.cwd())
  .option(
    "--out <path>",
    "backup directory (default: <dir>/backups/<stack>-<UTC time>-pre-change)",
  );

run("backup:before-change", async () => {
  const o = parseOptions<{ stack: string; preview: string; dir: string; out?: string }>(program);
  const stack = checkStackName(o.stack);
  const dir = path.resolve(o.dir);
  const settings = loadStack(stack, dir);
  let text: string;
  try {
    text = fs.readFileSync(o.preview, "utf8");
  } catch (e) {
    throw new UsageError(
      `--preview = ${JSON.stringify(o.preview)}: cannot read it (${(e as NodeJS.ErrnoException).code}): expected the file pulumi preview --json wrote`,
    );
  }
  let changes;
  try {
    changes = imageChanges(parsePreviewText(text, o.preview)).filter((c) => c.stack === stack);
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  }
  if (settings.environment === "aws") {
    log(
      `stack ${stack} is an AWS stack: its EBS and RDS snapshots are taken by the promote workflow; nothing to do here`,
    );
    return;
  }
  if (changes.length === 0) {
    log(`no data-bearing service of stack ${stack} changes its image: no backup needed`);
    return;
  }
  for (const c of changes) log(`${c.service} (data set ${c.dataSet}): image ${c.from} -> ${c.to}`);
  // Without an engine every data set would read as absent, and "no backup needed" would be a lie.
  await assertEngine();
  const keys = new Set(changes.map((c) => c.dataSet));
  const sets = settings.dataSets.filter((d) => keys.has(d.key));
  const present = (await Promise.all(sets.map((d) => dataSetPresent(d)))).some(Boolean);
  if (!present) {
    log(`the data sets ${[...keys].join(", ")} hold no data yet: no backup needed`);
    return;
  }
  const { dir: written } = await runBackup({
    settings: { ...settings, dataSets: sets },
    outDir: o.out ? path.resolve(o.out) : defaultBackupDir(dir, stack, new Date(), "-pre-change"),
    helperImage: settings.initImage,
    stopWriters: false,
    stopTimeout: settings.stopGraceSeconds,
    log,
  });
  log(
    `backup before the change: ${written} (the only way back if the new version migrates the data)`,
  );
  process.stdout.write(`${written}\n`);
});
