import { Secret } from "@pulumi/policy";

/*
 * Secret detection shared by the pack and its tests.
 *
 * A CrossGuard `validateResource` receives inputs with every secret already
 * unwrapped (@pulumi/policy deserializes them with secrets flattened), so it
 * cannot tell a secret from a plain string. A `remediateResource` receives them
 * with secrets still wrapped in `Secret`. The pack therefore uses both:
 * `no-plaintext-secrets` blocks what is visible as plain text wherever it sits
 * (an RDS master password, credentials in EC2 user data), and
 * `secret-inputs-encrypted` marks any secret-named input that reached the
 * engine unmarked as a secret, so it is encrypted in the state instead of
 * stored in plain text.
 */

/** Env var or property names that carry credentials. */
const SECRET_NAME =
  /(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)$|^(DATABASE_URL|PGPASSWORD)$/i;

/** Property names (camelCase inputs) that carry credentials. */
const SECRET_PROP = /^(password|masterPassword|secret|token|apiKey|privateKey|authToken)$/;

/** A URL with inline credentials, e.g. postgres://user:pass@host/db. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:[^\s@]+@/i;

/** `NAME=value` assignments of secrets in a script (EC2 user data). */
const SCRIPT_SECRET_ASSIGNMENT =
  /\b[A-Z0-9_]*(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY)[A-Z0-9_]*\s*=\s*['"]?[^\s'"$]/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Is this `NAME=value` container env entry a credential with a value? */
export function isSecretEnvEntry(entry: string): boolean {
  const eq = entry.indexOf("=");
  if (eq <= 0) return false;
  const name = entry.slice(0, eq);
  const value = entry.slice(eq + 1);
  if (value === "") return false;
  return isSecretName(name) || URL_WITH_PASSWORD.test(value);
}

export function scriptHasSecretAssignment(script: string): boolean {
  return SCRIPT_SECRET_ASSIGNMENT.test(script);
}

/** @pulumi/policy wraps inputs in proxies; remediation needs the raw values to see `Secret`s. */
export function unwrapPolicyProxy(value: unknown): unknown {
  let v = value;
  for (let i = 0; i < 4 && v !== null && typeof v === "object"; i++) {
    const proxied = v as Record<string, unknown>;
    if (proxied["__isSpecialProxy"] !== true) break;
    v = proxied["__getSpecialProxyTarget"];
  }
  return v;
}

export interface PlainSecret {
  /** Property path, e.g. `envs[2]` or `password`. */
  readonly path: string;
}

/**
 * Finds secret-named inputs that are not wrapped as secrets, and returns a copy
 * of the inputs with each of them wrapped. `raw` must be unproxied (see above).
 */
export function markPlainSecrets(raw: Record<string, unknown>): {
  found: PlainSecret[];
  props: Record<string, unknown>;
} {
  const found: PlainSecret[] = [];
  const props: Record<string, unknown> = { ...raw };
  for (const [key, value] of Object.entries(raw)) {
    if (value instanceof Secret) continue;
    if (key === "envs" && Array.isArray(value)) {
      props[key] = value.map((entry, i) => {
        if (typeof entry === "string" && isSecretEnvEntry(entry)) {
          found.push({ path: `envs[${i}]` });
          return new Secret(entry);
        }
        return entry;
      });
      continue;
    }
    if (SECRET_PROP.test(key) && typeof value === "string" && value !== "") {
      found.push({ path: key });
      props[key] = new Secret(value);
    }
  }
  return { found, props };
}
