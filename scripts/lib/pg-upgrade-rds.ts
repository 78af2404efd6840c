import { spawn } from "child_process";
import { RDS_ALLOW_MAJOR_KEY, rdsIdentifier } from "../../components/config/aws";
import { awsSettingsOf, Settings } from "../../components/config/settings";
import { majorOf } from "../guard/bindings";
import { UsageError } from "./stack";

/*
 * The RDS side of pg-upgrade: a manual snapshot first (the only AWS call, in one
 * small function so it can be replaced), then the exact change to make. RDS
 * itself does the upgrade during `pulumi up`, which it only accepts with the
 * config key panopticon:aws.rds.allowMajorVersionUpgrade; the guard flags an
 * engineVersion major change without it.
 */

export interface RdsPlan {
  readonly identifier: string;
  readonly region: string;
  readonly from: string;
  readonly to: number;
  readonly snapshotIdentifier: string;
  /** The lines printed for the user. */
  readonly text: string;
}

/** `<identifier>-pre-pg16-20260101t120000z`: RDS snapshot ids are lower case, letters digits and -. */
function snapshotId(identifier: string, to: number, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "z")
    .toLowerCase();
  return `${identifier}-pre-pg${to}-${stamp}`.slice(0, 255);
}

export function planRdsUpgrade(settings: Settings, to: number, now: Date): RdsPlan {
  const aws = awsSettingsOf(settings);
  if (aws === undefined) throw new UsageError(`stack ${settings.stack} is not an AWS stack`);
  const from = aws.rds.engineVersion;
  const current = Number(majorOf(from));
  if (to < current) {
    throw new UsageError(
      `--to = ${to}: lower than the current major ${current} (aws.rds.engineVersion = ${JSON.stringify(from)}): ` +
        `expected ${current} or higher; RDS cannot downgrade`,
    );
  }
  const identifier =
    aws.adopt.rdsInstanceIdentifier ?? rdsIdentifier(settings.project, settings.stack);
  const snapshotIdentifier = snapshotId(identifier, to, now);
  const file = `Pulumi.${settings.stack}.yaml`;
  const text = [
    `RDS instance ${identifier} (${aws.region}): Postgres ${from} -> ${to}`,
    `1. manual snapshot ${snapshotIdentifier} (taken now; restore from it to go back)`,
    `2. in ${file}, under panopticon:aws: rds: set`,
    `     engineVersion: "${to}"        # was ${JSON.stringify(from)}; a major only, so AWS's minor upgrades never read as drift`,
    `     allowMajorVersionUpgrade: true  # ${RDS_ALLOW_MAJOR_KEY}, for this update only`,
    `3. pulumi preview: the guard reports "planned major version upgrade"; then pulumi up.`,
    `   RDS upgrades in the instance's next maintenance window (changes are not applied immediately).`,
    `4. once the instance runs Postgres ${to}: remove allowMajorVersionUpgrade (it defaults to false).`,
    `   A custom parameter group must be of family postgres${to}; extensions (vector) are`,
    `   upgraded with ALTER EXTENSION ... UPDATE afterwards.`,
    `To go back: restore ${snapshotIdentifier} into the stack's identifier (README, AWS restore).`,
  ].join("\n");
  return { identifier, region: aws.region, from, to, snapshotIdentifier, text };
}

export type SnapshotFn = (plan: RdsPlan) => Promise<void>;

/** The one AWS call: a manual snapshot through the AWS CLI, waited for until available. */
export const awsCliSnapshot: SnapshotFn = async (plan) => {
  const aws = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const c = spawn("aws", [...args, "--region", plan.region], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      c.on("error", (e) => reject(new Error(`cannot run the AWS CLI (aws): ${e.message}`)));
      c.on("close", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`aws ${args.slice(0, 2).join(" ")} failed (exit ${code})`)),
      );
    });
  await aws([
    "rds",
    "create-db-snapshot",
    "--db-instance-identifier",
    plan.identifier,
    "--db-snapshot-identifier",
    plan.snapshotIdentifier,
  ]);
  await aws([
    "rds",
    "wait",
    "db-snapshot-available",
    "--db-snapshot-identifier",
    plan.snapshotIdentifier,
  ]);
};

export async function runRdsUpgrade(
  settings: Settings,
  to: number,
  opts: { readonly now: Date; readonly snapshot: SnapshotFn; readonly log: (l: string) => void },
): Promise<RdsPlan> {
  const plan = planRdsUpgrade(settings, to, opts.now);
  opts.log(`taking the manual snapshot ${plan.snapshotIdentifier} of ${plan.identifier}`);
  await opts.snapshot(plan);
  return plan;
}
