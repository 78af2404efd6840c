import { PROJECT } from "./naming";
import { isSecretConfigKey } from "./secrets";

/*
 * The raw settings map (`panopticon:*` without the namespace, secrets left out) from
 * the two places stack config comes from: Pulumi's config at run time and a stack
 * file read by the tools.
 */

/**
 * Turns Pulumi's flat config map (`{"panopticon:services": "{...json...}"}`)
 * into the raw settings map. Structured values arrive as JSON text, scalars as
 * strings; numbers and booleans are parsed so the schema sees their real type.
 */
export function rawFromPulumiConfig(all: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = `${PROJECT}:`;
  for (const [k, v] of Object.entries(all)) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    if (isSecretConfigKey(key)) continue;
    out[key] = parseScalar(v);
  }
  return out;
}

function parseScalar(v: string): unknown {
  const t = v.trim();
  if (/^[{[]/.test(t) || /^-?\d+(\.\d+)?$/.test(t) || t === "true" || t === "false") {
    try {
      return JSON.parse(t);
    } catch {
      return v;
    }
  }
  return v;
}

/**
 * Turns a stack file's `config:` block (as parsed YAML) into the raw settings
 * map, for tools that run without the Pulumi CLI (backup, restore, purge,
 * promote). Secure values are skipped: no tool here may need them in clear.
 */
export function rawFromStackFile(
  config: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = `${PROJECT}:`;
  for (const [k, v] of Object.entries(config ?? {})) {
    const key = k.startsWith(prefix) ? k.slice(prefix.length) : k.includes(":") ? undefined : k;
    if (key === undefined) continue; // other namespaces (aws:region, docker:host)
    if (isSecretConfigKey(key)) continue;
    out[key] = v;
  }
  return out;
}
