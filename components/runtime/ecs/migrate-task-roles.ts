import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy } from "../../aws/types";
import { executionRole } from "./execution-role";

/*
 * The two roles of the one-off migration task (migrate-task.ts), each limited to what
 * migrate-data does in it: read one secret at start, then mount read-only and snapshot.
 */

export interface MigrationRolesArgs {
  readonly partition: string;
  readonly kmsKeyArn: pulumi.Input<string>;
  /** The stack's database secret. */
  readonly secretArn: pulumi.Input<string>;
  readonly instanceArn: pulumi.Input<string>;
  readonly instanceIdentifier: pulumi.Input<string>;
  readonly fileSystemArn: pulumi.Input<string>;
  /** The task's read-only access points: the only ones it may mount through. */
  readonly accessPointArns: readonly pulumi.Input<string>[];
}

/**
 * The execution role reads the database secret (and decrypts it); the task role
 * mounts the access points read-only (ClientMount, never ClientWrite) and takes and
 * watches the manual snapshot `<instance>-before-migrate-*` of the one instance.
 */
export function migrationRoles(
  name: string,
  phys: string,
  args: MigrationRolesArgs,
  child: pulumi.CustomResourceOptions,
): { execution: aws.iam.Role; task: aws.iam.Role } {
  const trust = assumeRolePolicy("ecs-tasks.amazonaws.com");
  return {
    // Starts the task: pulls the image, reads the database secret and decrypts it.
    execution: executionRole(
      name,
      phys,
      { partition: args.partition, kmsKeyArn: args.kmsKeyArn, secretArns: [args.secretArn] },
      child,
    ),
    task: taskRole(name, phys, args, trust, child),
  };
}

/** What the tool may do: mount the data sets read-only and snapshot the one instance. */
function taskRole(
  name: string,
  phys: string,
  args: MigrationRolesArgs,
  trust: string,
  child: pulumi.CustomResourceOptions,
): aws.iam.Role {
  const task = new aws.iam.Role(
    `${name}-task`,
    { name: `${phys}-task`, assumeRolePolicy: trust },
    child,
  );
  const snapshots = pulumi.interpolate`${pulumi
    .output(args.instanceArn)
    .apply((arn) =>
      arn.replace(/:db:[^:]+$/, ":snapshot:"),
    )}${args.instanceIdentifier}-before-migrate-*`;
  new aws.iam.RolePolicy(
    `${name}-task-policy`,
    {
      role: task.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: "rds:CreateDBSnapshot",
            Resource: [args.instanceArn, snapshots],
          },
          { Effect: "Allow", Action: "rds:DescribeDBSnapshots", Resource: snapshots },
          ...(args.accessPointArns.length === 0
            ? []
            : [
                {
                  Effect: "Allow",
                  Action: "elasticfilesystem:ClientMount",
                  Resource: args.fileSystemArn,
                  Condition: {
                    StringEquals: {
                      "elasticfilesystem:AccessPointArn": args.accessPointArns,
                    },
                  },
                },
              ]),
        ],
      }),
    },
    child,
  );
  return task;
}
