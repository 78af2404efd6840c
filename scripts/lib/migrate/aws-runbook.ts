import { rdsIdentifier } from "../../../components/config/aws";
import { awsSettingsOf, Settings } from "../../../components/config/settings";
import type { AwsSettings } from "../../../components/config/aws";
import { physicalName, PROJECT } from "../../../components/config/naming";
import { spawnSync } from "child_process";
import type { MigrationTaskOutputs } from "../../../components/runtime/ecs/migrate-task";
import {
  MIGRATE_CONTAINER,
  MIGRATION_TASK_OUTPUT,
} from "../../../components/runtime/ecs/migrate-task-contract";
import { DATABASE_URL_ENV, DEFAULT_PSQL_IMAGE } from "./aws";

/*
 * --print-aws-runbook: the steps for an AWS stack with the stack's own names filled
 * in. Printed, never run. On the Docker host (aws.runtime docker-host) migrate-data
 * itself does the work: psql in a helper container on the host reaches RDS by URL,
 * the ChromaDB files are read on the host's engine, and the RDS and EBS snapshots
 * come first (the AWS CLI). On ECS there is no Docker host: the copy runs in the
 * stack's one-off task (components/runtime/ecs/migrate-task.ts), started with
 * `aws ecs run-task`, with the cluster, task definition and network from the stack's
 * `migrationTask` output.
 * docs/migration.md explains each step; none of this has been run against AWS.
 */

export function awsRunbook(settings: Settings, task?: MigrationTaskOutputs): string {
  const a = awsSettingsOf(settings);
  if (a === undefined) {
    return (
      `stack ${settings.stack} is a local stack: no AWS runbook. Migrate it with\n` +
      `  npm run doctor -- --stack ${settings.stack}\n` +
      `  npm run migrate-data -- --stack ${settings.stack}\n`
    );
  }
  const s = settings.stack;
  const rds = a.adopt.rdsInstanceIdentifier ?? rdsIdentifier(settings.project, s);
  const host = a.dockerHost ?? "ssh://ec2-user@<host alias>";
  const lines = [
    `# stack ${s}: environment aws, runtime ${a.runtime}, region ${a.region}`,
    `# Not run against AWS by this project's tests: check each step before you rely on it.`,
    ``,
  ];
  if (a.runtime !== "ecs") {
    const ebs = settings.dataSets.filter((d) => d.backend === "ebs");
    const efs = settings.dataSets.filter((d) => d.backend === "efs");
    lines.push(
      `# 1. Reach the Docker host through SSM (docs/production.md: the ~/.ssh/config alias):`,
      `DOCKER_HOST=${host} docker ps`,
      ...(a.dockerHost === undefined
        ? [`#    panopticon:aws.dockerHost is not set: export DOCKER_HOST=${host} for step 3.`]
        : [`#    migrate-data uses panopticon:aws.dockerHost (${host}) itself.`]),
      ``,
      `# 2. The RDS connection string (with its password) in the environment, never on a command line:`,
      `export ${DATABASE_URL_ENV}="$(pulumi stack output connectionString --stack ${s} --show-secrets)"`,
      ``,
      `# 3. The migration. It takes, and waits for, an RDS snapshot of ${rds} and an EBS`,
      `#    snapshot of the data disk (${physicalName(PROJECT, s, "data")}) first, with the AWS CLI, and aborts if either fails.`,
      ...(efs.length > 0
        ? [
            `#    EFS data sets (${efs.map((d) => d.key).join(", ")}): AWS Backup covers them; no snapshot is taken.`,
          ]
        : []),
      `#    Then psql in a ${DEFAULT_PSQL_IMAGE} helper on the host copies into RDS,`,
      `#    and the ChromaDB files are read on the host (${ebs.map((d) => d.hostPath).join(", ") || "no ebs data sets"}).`,
      `npm run migrate-data -- --stack ${s}`,
      `#    options: --ebs-volume-id vol-... (default: aws.adopt.ebsVolumeId, else the attached volume tagged`,
      `#    Name=${physicalName(PROJECT, s, "data")}), --psql-image IMAGE, --psql-network NETWORK.`,
      ``,
      `# 4. The last line names the report (rows read, inserted, already present, checks); then:`,
      `unset ${DATABASE_URL_ENV}`,
      ``,
    );
  } else {
    lines.push(...ecsRunbook(settings, a, rds, task));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The stack's `migrationTask` output (`pulumi stack output --json`), or undefined when
 * Pulumi cannot say (not logged in, no such output: the task is not enabled).
 */
export function migrationTaskOutputs(
  stack: string,
  dir: string,
  pulumi: string = process.env.PANOPTICON_PULUMI ?? "pulumi",
): MigrationTaskOutputs | undefined {
  const r = spawnSync(
    pulumi,
    ["stack", "output", MIGRATION_TASK_OUTPUT, "--json", "--stack", stack],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) return undefined;
  try {
    const o = JSON.parse(r.stdout) as MigrationTaskOutputs;
    return typeof o?.cluster === "string" && typeof o.taskDefinition === "string" ? o : undefined;
  } catch {
    return undefined;
  }
}

function ecsRunbook(
  settings: Settings,
  a: AwsSettings,
  rds: string,
  task?: MigrationTaskOutputs,
): string[] {
  const s = settings.stack;
  const region = `--region ${a.region}`;
  if (task === undefined) {
    return [
      `# ECS has no Docker host: migrate-data runs as the stack's one-off task, which this stack does not`,
      `# have yet (no ${MIGRATION_TASK_OUTPUT} output). Turn it on, deploy, and run this command again:`,
      `pulumi config set --path --type bool panopticon:aws.ecs.migrationTask true --stack ${s}`,
      `pulumi up --stack ${s}`,
      `npm run migrate-data -- --stack ${s}`,
      ``,
    ];
  }
  const net =
    `awsvpcConfiguration={subnets=[${task.subnets.join(",")}],` +
    `securityGroups=[${task.securityGroups.join(",")}],assignPublicIp=DISABLED}`;
  return [
    `# ECS has no Docker host: migrate-data runs as the one-off task ${task.taskDefinition}`,
    `# (image built from this repository, data sets mounted read-only, RDS URL from the stack's secret).`,
    `# Stop the services that still write ChromaDB files before you start it.`,
    `# 1. Start it. It snapshots ${rds} first (${rds}-before-migrate-<UTC time>) and waits for it:`,
    `TASK=$(aws ecs run-task ${region} --cluster ${task.cluster} --task-definition ${task.taskDefinition} \\`,
    `  --launch-type FARGATE --network-configuration '${net}' \\`,
    `  --query 'tasks[0].taskArn' --output text)`,
    `# 2. Wait for it to stop, then read its exit code (0: every source migrated and verified):`,
    `aws ecs wait tasks-stopped ${region} --cluster ${task.cluster} --tasks "$TASK"`,
    `aws ecs describe-tasks ${region} --cluster ${task.cluster} --tasks "$TASK" \\`,
    `  --query 'tasks[0].containers[?name==\`${MIGRATE_CONTAINER}\`].exitCode' --output text`,
    `# 3. The report is the last line of its log:`,
    `aws logs tail ${task.logGroup} ${region} --since 1h`,
    ``,
  ];
}
