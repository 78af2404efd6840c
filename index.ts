import * as pulumi from "@pulumi/pulumi";
import type * as dockerHostRuntime from "./components/runtime/docker-host/runtime";
import type * as ecsRuntime from "./components/runtime/ecs/runtime";
import type * as awsEnvironment from "./components/aws/environment";
import { localRuntime } from "./components/runtime/local/runtime";
import type { RuntimeOutputs } from "./components/runtime/shared";
import { assertPgVersionMatches, dockerIsLocal } from "./components/pg-version";
import { dockerVolumeExists, localProbe, unmigratedProblem } from "./components/unmigrated";
import {
  ConfigError,
  emptySecretKeys,
  parseSettings,
  plainSecretKeys,
  rawFromPulumiConfig,
  Target,
} from "./components/config/settings";
import { checkAppSource } from "./components/config/images";
import { checkoutRevision } from "./components/config/compose/source";
import { checkHostPaths } from "./components/config/host";
// isConfigSecret is internal to the SDK; it reads the CLI's list of secret keys.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret: (key: string) => boolean;
};

// Config is read and validated once; a bad value throws here, before any resource exists.
const allConfig = pulumi.runtime.allConfig();
const settings = parseSettings(rawFromPulumiConfig(allConfig), {
  stack: pulumi.getStack(),
  baseDir: process.cwd(),
  plainSecrets: plainSecretKeys(allConfig, isConfigSecret),
  emptySecrets: emptySecretKeys(allConfig),
});
// The checkout images are built from must exist (and build the data's Postgres major),
// and a bind-mode data directory must be safe to fill, before anything is registered.
const sourceProblems = [
  ...checkAppSource(settings.images, settings.postgres),
  // A bind-mode data directory that is a file, or that git would commit.
  ...checkHostPaths(settings, process.cwd()),
];
if (sourceProblems.length > 0) throw new ConfigError(settings.stack, sourceProblems);
const dockerHost = allConfig["docker:host"] ?? process.env.DOCKER_HOST;
// A bind-mode Postgres directory of another major is refused before anything is registered.
const pgVersionWarning = assertPgVersionMatches(settings, { dockerHost });
if (pgVersionWarning !== undefined) void pulumi.log.warn(pgVersionWarning);
// A local move to release 0.1 over compose-era data that was never migrated is refused.
if (dockerIsLocal(dockerHost)) {
  const unmigrated = unmigratedProblem(settings, {
    baseDir: process.cwd(),
    acknowledged: settings.acknowledgeUnmigratedData,
    probe: localProbe(process.cwd(), dockerVolumeExists),
  });
  if (unmigrated !== undefined) throw new ConfigError(settings.stack, [unmigrated]);
}
const config = new pulumi.Config();
// A configured secret, or (when absent) a password the components generate.
const postgresPassword = config.getSecret("postgresPassword");
// API keys: each a config secret, empty when unset (compose declares them all the same).
const secrets = Object.fromEntries(
  settings.secrets.map((s) => [s.env, config.getSecret(s.configKey) ?? pulumi.secret("")]),
);

// One runtime per target (settings.target): the local Docker engine, the EC2 Docker
// host or ECS Fargate, the AWS ones on the same data. The AWS components (and
// @pulumi/aws with them) are loaded only for AWS stacks: a local stack's preview
// starts without paying for them (docs/performance.md).
function runtimeOf(target: Target): RuntimeOutputs & { readonly outputs?: pulumi.Output<unknown> } {
  switch (target.kind) {
    case "local":
      return localRuntime("panopticon", { settings, secrets, postgresPassword });
    case "docker-host": {
      const m = require("./components/runtime/docker-host/runtime") as typeof dockerHostRuntime;
      return new m.DockerHostRuntime("panopticon", { settings, target, secrets, postgresPassword });
    }
    case "ecs": {
      const e = require("./components/aws/environment") as typeof awsEnvironment;
      const m = require("./components/runtime/ecs/runtime") as typeof ecsRuntime;
      // The shared AWS pieces, then the services on what they give, with their provider.
      const env = new e.AwsEnvironment("panopticon-aws", { settings, target, postgresPassword });
      return new m.EcsRuntime(
        "panopticon",
        { settings, target, platform: env.platform, secretValues },
        { providers: [env.provider] },
      );
    }
  }
}
// ECS keeps only the configured API keys (in Secrets Manager); an unset one is left unset.
const secretValues = Object.fromEntries(
  settings.secrets.flatMap((s) => {
    const value = config.getSecret(s.configKey);
    return value === undefined ? [] : [[s.env, value]];
  }),
);
const app = runtimeOf(settings.target);

export const endpoints = app.endpoints;
export const volumes = app.volumes;
/** Service → the image it runs (`repo@sha256:...` when pushed); `npm run promote` reads it. */
export const images = app.images;
export const connectionString = app.connectionString;
/**
 * What ran: the layout (compose era or release 0.1), the Panopticon commit and whether
 * the checkout had local changes, and the compose file; `npm run promote` carries it
 * to a stack without a checkout.
 */
export const layout = settings.layout.kind;
export const release = {
  // A checkout is asked (git); a promoted release says where it came from, or nothing.
  source: pulumi.output(
    settings.layout.checkout !== undefined
      ? checkoutRevision(settings.layout.checkout)
      : (settings.layout.release.source ?? { commit: null, dirty: null }),
  ),
  compose: settings.layout.release.compose,
};
export const protection = app.protectionSummary;
/** AWS stacks only: instance id (for SSM), RDS, KMS, EBS and EFS ids (for re-adoption). */
export const aws = app.outputs;
