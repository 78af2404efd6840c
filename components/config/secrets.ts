import { secretConfigKey } from "./catalogue";
import { PROJECT } from "./naming";

/*
 * Secrets: which config keys are read as Pulumi secrets, never as plain settings, and
 * the secret each service's variables are filled from.
 */

/**
 * The secret keys Panopticon's compose files give a service today (both layouts), as
 * docs/configuration.md lists them; any other `*ApiKey` a compose file names works
 * the same way.
 */
export const SECRET_KEYS = [
  "postgresPassword",
  "apiKey",
  "openaiApiKey",
  "googleApiKey",
  "anthropicApiKey",
  "litellmApiKey",
] as const;

/**
 * Keys read as Pulumi secrets, never as plain settings: the database password and
 * the config key of every secret variable (API_KEY → apiKey, OPENAI_API_KEY →
 * openaiApiKey; components/config/catalogue.ts secretConfigKey).
 */
export function isSecretConfigKey(key: string): boolean {
  return key === "postgresPassword" || /^(api|[a-z][a-z0-9]*Api)Key$/.test(key);
}

/** The secret keys a config map sets to an empty (or blank) value. */
export function emptySecretKeys(all: Record<string, unknown>): string[] {
  return secretKeysIn(all, (v) => typeof v === "string" && v.trim() === "");
}

/** The secret keys of a config map (without the namespace) whose value passes `keep`. */
function secretKeysIn(
  all: Record<string, unknown>,
  keep: (value: unknown, fullKey: string) => boolean,
): string[] {
  const prefix = `${PROJECT}:`;
  return Object.keys(all)
    .filter((k) => k.startsWith(prefix) && isSecretConfigKey(k.slice(prefix.length)))
    .filter((k) => keep(all[k], k))
    .map((k) => k.slice(prefix.length));
}

/**
 * The secret keys (postgresPassword, apiKey, ...) present in a config map but not
 * stored as secrets. `isSecret` answers for a full key (`panopticon:apiKey`).
 */
export function plainSecretKeys(
  all: Record<string, unknown>,
  isSecret: (fullKey: string) => boolean,
): string[] {
  return secretKeysIn(all, (_v, k) => !isSecret(k));
}

/** A secret variable and the stack config key it is read from. */
export interface SecretSetting {
  readonly env: string;
  readonly configKey: string;
}

export interface SecretContext {
  /** Secret keys the stack sets in plain text (plainSecretKeys()); each is refused. */
  readonly plainSecrets?: readonly string[];
  /** Secret keys the stack sets to an empty value (emptySecretKeys()). */
  readonly emptySecrets?: readonly string[];
}

/**
 * Every variable some service declares, each read from a config secret. A key set in
 * plain text is refused, and so is one set but empty: compose gives no secret a default
 * (a literal is refused), so empty is a slip where leaving it unset is a choice.
 */
export function secretSettings(
  services: readonly { readonly name: string; readonly secretEnv: readonly string[] }[],
  ctx: SecretContext,
  problems: string[],
): SecretSetting[] {
  const secretEnvs = [...new Set(services.flatMap((svc) => svc.secretEnv))].sort();
  const secrets = secretEnvs.map((env) => ({ env, configKey: secretConfigKey(env) }));
  for (const { env, configKey } of secrets) {
    if (ctx.emptySecrets?.includes(configKey)) {
      const who = services.filter((svc) => svc.secretEnv.includes(env)).map((svc) => svc.name);
      problems.push(
        `${PROJECT}:${configKey} = "" (secret, empty): ${who.join(", ")} read ${env}, which compose gives no default: set a value with \`pulumi config set --secret ${configKey} <value>\`, or \`pulumi config rm ${configKey}\` to leave it unset`,
      );
    }
  }
  for (const configKey of ctx.plainSecrets ?? []) {
    problems.push(
      `${PROJECT}:${configKey} is set in plain text: expected a secret; run \`pulumi config rm ${configKey}\` then \`pulumi config set --secret ${configKey} <value>\``,
    );
  }
  return secrets;
}
