import * as pulumi from "@pulumi/pulumi";
import type * as awsEnvironment from "./components/aws/environment";
import type * as ecsRuntime from "./components/aws/ecs/runtime";
import { Panopticon } from "./components/panopticon";
import { parseSettings, rawFromPulumiConfig } from "./components/settings";

// Config is read and validated once; a bad value throws here, before any resource exists.
const settings = parseSettings(rawFromPulumiConfig(pulumi.runtime.allConfig()), {
  stack: pulumi.getStack(),
  baseDir: process.cwd(),
});
// A configured secret, or (when absent) a password the components generate.
const postgresPassword = new pulumi.Config().getSecret("postgresPassword");

// The environment comes from config (panopticon:environment), never from the stack's name.
// The AWS components (and @pulumi/aws with them) are loaded only for AWS stacks:
// a local stack's preview starts without paying for them (README, Performance).
const platform =
  settings.environment === "aws"
    ? new (require("./components/aws/environment") as typeof awsEnvironment).AwsEnvironment(
        "panopticon-aws",
        { settings, postgresPassword },
      )
    : undefined;

// Three runtimes: the local Docker engine, the EC2 Docker host (panopticon:aws.runtime
// docker-host, the default) and ECS Fargate (ecs), all on the same data.
const app =
  platform?.runtime === "ecs"
    ? new (require("./components/aws/ecs/runtime") as typeof ecsRuntime).EcsRuntime(
        "panopticon",
        { settings, platform, secretValues: {} },
        { providers: [platform.provider] },
      )
    : platform
      ? new Panopticon(
          "panopticon",
          { settings, externalDatabase: platform.database, nfsDriverOpts: platform.nfsDriverOpts },
          { providers: [platform.dockerProvider!] },
        )
      : new Panopticon("panopticon", { settings, postgresPassword });

export const endpoints = app.endpoints;
export const volumes = app.volumes;
export const connectionString = app.connectionString;
export const protection = app.protectionSummary;
/** AWS stacks only: instance id (for SSM), RDS, KMS, EBS and EFS ids (for re-adoption). */
export const aws = platform?.outputs;
