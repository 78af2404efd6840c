import * as pulumi from "@pulumi/pulumi";
import { assertPgVersionMatches, dockerIsLocal } from "./pg-version";
import { dockerVolumeExists, localProbe, unmigratedProblem } from "./unmigrated";
import {
  ConfigError,
  emptySecretKeys,
  parseSettings,
  plainSecretKeys,
  rawFromPulumiConfig,
  Settings,
} from "./config/settings";
import { checkAppSource } from "./config/images";
import { checkHostPaths } from "./config/host";
// isConfigSecret is internal to the SDK; it reads the CLI's list of secret keys.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret: (key: string) => boolean;
};

/*
 * What the program does before it registers anything: read and validate the stack's
 * config once, then refuse what would harm data on this machine. Every refusal throws
 * a ConfigError here, so a bad value stops `pulumi up` before any resource exists.
 */

/** The stack's validated settings, after the checks that need this machine. */
export function startSettings(): Settings {
  const allConfig = pulumi.runtime.allConfig();
  const settings = parseSettings(rawFromPulumiConfig(allConfig), {
    stack: pulumi.getStack(),
    baseDir: process.cwd(),
    plainSecrets: plainSecretKeys(allConfig, isConfigSecret),
    emptySecrets: emptySecretKeys(allConfig),
  });
  preflight(settings, allConfig["docker:host"] ?? process.env.DOCKER_HOST);
  return settings;
}

function preflight(settings: Settings, dockerHost: string | undefined): void {
  // The checkout images are built from must exist (and build the data's Postgres
  // major), and a bind-mode data directory must be safe to fill: not a file, and not
  // something git would commit.
  const sourceProblems = [
    ...checkAppSource(settings.images, settings.postgres),
    ...checkHostPaths(settings, process.cwd()),
  ];
  if (sourceProblems.length > 0) throw new ConfigError(settings.stack, sourceProblems);
  // A bind-mode Postgres directory of another major is refused.
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
}

/** The stack's secrets, read from its config. */
export interface StackSecrets {
  /** The configured `postgresPassword`; when absent, the components generate one. */
  readonly postgresPassword?: pulumi.Output<string>;
  /** Every API key variable, empty when unset (compose declares them all the same). */
  readonly env: Record<string, pulumi.Output<string>>;
  /** Only the API keys that are set (ECS keeps these in Secrets Manager). */
  readonly setEnv: Record<string, pulumi.Output<string>>;
}

export function stackSecrets(settings: Settings): StackSecrets {
  const config = new pulumi.Config();
  const set = settings.secrets.flatMap((s) => {
    const value = config.getSecret(s.configKey);
    return value === undefined ? [] : [[s.env, value] as const];
  });
  const setEnv = Object.fromEntries(set);
  return {
    postgresPassword: config.getSecret("postgresPassword"),
    env: Object.fromEntries(
      settings.secrets.map((s) => [s.env, setEnv[s.env] ?? pulumi.secret("")]),
    ),
    setEnv,
  };
}
