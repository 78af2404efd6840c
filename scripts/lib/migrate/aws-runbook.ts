import { rdsIdentifier } from "../../../components/config/aws";
import { Settings } from "../../../components/config/settings";
import { physicalName, PROJECT } from "../../../components/config/naming";
import { DATABASE_URL_ENV, DEFAULT_PSQL_IMAGE } from "./aws";

/*
 * --print-aws-runbook: the steps for an AWS stack with the stack's own names filled
 * in. Printed, never run. On the Docker host (aws.runtime docker-host) migrate-data
 * itself does the work: psql in a helper container on the host reaches RDS by URL,
 * the ChromaDB files are read on the host's engine, and the RDS and EBS snapshots
 * come first (the AWS CLI). On ECS there is no Docker host and no image carrying the
 * tool, so migrate-data refuses (exit 3) and the runbook says what is left.
 * docs/migration.md explains each step; none of this has been run against AWS.
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
    lines.push(
      `# ECS has no Docker host, and no image this project builds carries migrate-data, so there is no`,
      `# one-off task that runs it: npm run migrate-data -- --stack ${s} refuses (exit 3).`,
      `# What exists: the RDS snapshot, before anything is copied by other means:`,
      `SNAP=${rds}-before-migrate-$(date -u +%Y%m%dt%H%M%Sz)`,
      `aws rds create-db-snapshot ${region} --db-instance-identifier ${rds} --db-snapshot-identifier "$SNAP"`,
      `aws rds wait db-snapshot-available ${region} --db-snapshot-identifier "$SNAP"`,
      `# If the stack came from the Docker host with keepHostDataDisk, migrate there first: run migrate-data`,
      `# on the Docker-host configuration (Pulumi.prod.yaml) before the move to ECS (docs/ecs.md).`,
      `# docs/migration.md, "AWS on ECS", says what is left to build.`,
      ``,
    );
  }
  return `${lines.join("\n")}\n`;
}
