import type { ComposeService } from "./compose/read";

/*
 * The catalogue's policy on a service's environment (components/config/catalogue.ts):
 * API_KEY and every *_API_KEY are config secrets, the database variables are the
 * stack's own, a URL naming another service is a reference to it.
 */

/** The connection settings the program injects itself, with the stack's one password. */
const DATABASE_VARS = new Set([
  "POSTGRES_HOST",
  "POSTGRES_PORT",
  "POSTGRES_USER",
  "POSTGRES_PASSWORD",
  "POSTGRES_DB",
  "DATABASE_URL",
]);
const URL_VALUE = /^https?:\/\/([a-z][a-z0-9-]*):(\d+)\/?$/;

/** API_KEY and every *_API_KEY: never plain config, never promoted. */
export function isSecretVariable(name: string): boolean {
  return name === "API_KEY" || /^[A-Z][A-Z0-9_]*_API_KEY$/.test(name);
}

/** The stack config key a secret variable is read from: OPENAI_API_KEY → openaiApiKey. */
export function secretConfigKey(variable: string): string {
  const [first, ...rest] = variable.toLowerCase().split("_");
  return first + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

/**
 * A service's environment sorted by what the policy makes of it: secrets (from stack
 * config), the database variables (replaced by the stack's own), other services' URLs,
 * variables left to the deployer, and plain values.
 */
export function readEnv(
  svc: ComposeService,
  names: ReadonlySet<string>,
  at: string,
  problems: string[],
) {
  const env: Record<string, string> = {};
  const urls: Record<string, string> = {};
  const secrets: string[] = [];
  const unsetEnv: string[] = [];
  let database = false;
  for (const e of svc.environment) {
    if (isSecretVariable(e.key)) {
      if (!e.value.bare) {
        problems.push(
          `${at}.environment.${e.key}: compose gives it a value; secrets come from stack config: write ${e.key}=\${${e.key}} and run \`pulumi config set --secret ${secretConfigKey(e.key)} <value>\``,
        );
      }
      secrets.push(e.key);
      continue;
    }
    if (DATABASE_VARS.has(e.key)) {
      database = true; // replaced by the stack's connection settings and password
      continue;
    }
    const url = URL_VALUE.exec(e.value.value);
    if (url && names.has(url[1]) && e.value.unresolved.length === 0) {
      urls[e.key] = url[1];
      continue;
    }
    if (e.value.unresolved.length > 0) {
      if (!e.value.bare) {
        problems.push(
          `${at}.environment.${e.key} = ${JSON.stringify(e.raw)}: \${${e.value.unresolved[0]}} has no default and the program reads no shell or .env: give it a default or set services.${svc.name}.env.${e.key}`,
        );
      }
      unsetEnv.push(e.key);
      continue;
    }
    env[e.key] = e.value.value;
  }
  return { env, urls, secrets, unsetEnv, database };
}
