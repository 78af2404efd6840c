import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy } from "../../aws/types";

/*
 * The role ECS starts a task with, for the services' task definitions and the one-off
 * migration task alike: AWS's managed execution policy (pull the image, write the
 * logs) and, when the task gets secrets, reading exactly those and decrypting them.
 */

export interface ExecutionRoleArgs {
  readonly partition: string;
  /** The data key the secrets are encrypted with. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** The secrets the task's containers receive; none, no secrets policy. */
  readonly secretArns: readonly pulumi.Input<string>[];
}

export function executionRole(
  name: string,
  phys: string,
  args: ExecutionRoleArgs,
  opts: pulumi.CustomResourceOptions,
): aws.iam.Role {
  const role = new aws.iam.Role(
    `${name}-execution`,
    { name: `${phys}-execution`, assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com") },
    opts,
  );
  new aws.iam.RolePolicyAttachment(
    `${name}-execution-managed`,
    {
      role: role.name,
      policyArn: `arn:${args.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
    },
    opts,
  );
  if (args.secretArns.length > 0) {
    new aws.iam.RolePolicy(
      `${name}-execution-secrets`,
      {
        role: role.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: args.secretArns },
            { Effect: "Allow", Action: "kms:Decrypt", Resource: args.kmsKeyArn },
          ],
        }),
      },
      opts,
    );
  }
  return role;
}
