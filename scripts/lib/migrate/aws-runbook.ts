import { rdsIdentifier } from "../../../components/settings-aws";
import { Settings } from "../../../components/settings";

/*
 * --print-aws-runbook: the steps for an AWS stack with the stack's own names filled
 * in. Printed, never run, and only commands that exist: migrate-data itself reaches
 * Postgres through the stack's Postgres container, which an AWS stack does not have
 * (RDS), so it refuses AWS stacks (exit 3). docs/migration.md explains each step;
 * none of this has been run against AWS.
 */

export function awsRunbook(settings: Settings): string {
  if (settings.environment !== "aws" || settings.aws === undefined) {
    return (
      `stack ${settings.stack} is a local stack: no AWS runbook. Migrate it with\n` +
      `  npm run doctor -- --stack ${settings.stack}\n` +
      `  npm run migrate-data -- --stack ${settings.stack}\n`
    );
  }
  const a = settings.aws;
  const s = settings.stack;
  const region = `--region ${a.region}`;
  const rds = rdsIdentifier(settings.project, s);
  const snap = `${rds}-before-migrate-$(date -u +%Y%m%dT%H%M%SZ)`;
  const lines = [
    `# stack ${s}: environment aws, runtime ${a.runtime}, region ${a.region}`,
    `# Not run against AWS by this project's tests: check each step before you rely on it.`,
    ``,
    `# 1. Backups first. RDS (the target of the migration):`,
    `SNAP=${snap}`,
    `aws rds create-db-snapshot ${region} --db-instance-identifier ${rds} --db-snapshot-identifier "$SNAP"`,
    `aws rds wait db-snapshot-available ${region} --db-snapshot-identifier "$SNAP"`,
  ];
  if (a.runtime !== "ecs") {
    lines.push(
      `# The host's EBS data disk (the ChromaDB data sets are only read, but keep a copy anyway):`,
      `aws ec2 create-snapshot ${region} --volume-id "$(pulumi stack output aws --stack ${s} --json | jq -r .ebsVolumeId)" \\`,
      `  --description "panopticon ${s} before migrate-data"`,
      ``,
      `# 2. Look at the data on the Docker host (SSM; docs/production.md):`,
      `DOCKER_HOST=${a.dockerHost ?? "ssh://ec2-user@<host alias>"} docker ps`,
      `aws ssm start-session ${region} --target "$(pulumi stack output aws --stack ${s} --json | jq -r .dockerHostInstanceId)"`,
      `#   on the host: ls -la ${a.dataMountPath}/${s}/*/chroma.sqlite3`,
    );
  } else {
    lines.push(
      ``,
      `# 2. On ECS a service's data set is an EFS access point: docs/ecs.md shows a one-off task`,
      `#    (aws ecs run-task with the service's own task definition) that mounts it.`,
    );
  }
  lines.push(
    ``,
    `# 3. The copy: npm run migrate-data does not run against RDS yet (it refuses AWS stacks, exit 3).`,
    `#    docs/migration.md, "AWS", says what exists today and what is left to build.`,
    ``,
  );
  return `${lines.join("\n")}\n`;
}
