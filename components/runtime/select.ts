import type * as pulumi from "@pulumi/pulumi";
import type * as dockerHostRuntime from "./docker-host/runtime";
import type * as ecsRuntime from "./ecs/runtime";
import type * as awsEnvironment from "../aws/environment";
import type { Settings } from "../config/settings";
import type { StackSecrets } from "../start";
import { localRuntime } from "./local/runtime";
import type { RuntimeOutputs } from "./shared";

export type Runtime = RuntimeOutputs & {
  readonly outputs?: pulumi.Output<unknown>;
  readonly migrationTask?: pulumi.Output<unknown>;
};

/**
 * One runtime per target (settings.target): the local Docker engine, the EC2 Docker
 * host or ECS Fargate, the AWS ones on the same data. The AWS components (and
 * @pulumi/aws with them) are loaded only for AWS stacks: a local stack's preview
 * starts without paying for them (docs/performance.md).
 */
export function runtimeFor(settings: Settings, secrets: StackSecrets): Runtime {
  const { postgresPassword } = secrets;
  const target = settings.target;
  switch (target.kind) {
    case "local":
      return localRuntime("panopticon", { settings, secrets: secrets.env, postgresPassword });
    case "docker-host": {
      const m = require("./docker-host/runtime") as typeof dockerHostRuntime;
      return new m.DockerHostRuntime("panopticon", {
        settings,
        target,
        secrets: secrets.env,
        postgresPassword,
      });
    }
    case "ecs": {
      const e = require("../aws/environment") as typeof awsEnvironment;
      const m = require("./ecs/runtime") as typeof ecsRuntime;
      // The shared AWS pieces, then the services on what they give, with their provider.
      // ECS keeps only the configured API keys (in Secrets Manager); an unset one stays unset.
      const env = new e.AwsEnvironment("panopticon-aws", { settings, target, postgresPassword });
      return new m.EcsRuntime(
        "panopticon",
        { settings, target, platform: env.platform, secretValues: secrets.setEnv },
        { providers: [env.provider] },
      );
    }
  }
}
