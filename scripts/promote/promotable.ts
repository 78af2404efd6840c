import { PROJECT } from "../../components/config/naming";

/*
 * THE promotable set: the one place that says what `npm run promote` may copy
 * from one stack file to another. Promotion moves the release, never the
 * environment.
 *
 * Promotable, per service under `panopticon:services.<name>`:
 *   - `image`: which build runs. It must be pinned by digest, so the target runs
 *     exactly the bytes the source ran (a tag can be moved after testing).
 *   - `env`: app-level settings (plain strings; the schema already forbids
 *     POSTGRES_*, DATABASE_URL and PGPASSWORD, which the program injects).
 * And `panopticon:release` as a whole: the Panopticon commit the source was built
 * from and its docker-compose.yml, the service layout (prod has no checkout). With
 * it, a service block appears for a service new in the release, and goes when the
 * release drops the service and the block held nothing but its image and env.
 *
 * Environment-only (never copied, and a promotion that would change one of them
 * is refused): `panopticon:environment`, `storageMode`, `dataDir`, `bindAddress`,
 * `stopGraceSeconds`, `protect`, `initImage`, `postgresDatabase`, `postgresUser`,
 * `volumeNames`, `adoptComposeVolumes`, `aws`, every
 * `services.<name>.{kind,port,hostPort,stopSignal,data,healthcheck,command}`, the
 * existence of a service block itself, any secure value and any key outside the
 * `panopticon:` namespace (and anything outside `config:`).
 */
export const PROMOTABLE = {
  /** Stack-file key that holds the services map. */
  servicesKey: `${PROJECT}:services`,
  /** Stack-file key of the release (Panopticon commit and compose file) the stack runs. */
  releaseKey: `${PROJECT}:release`,
  /** Fields of one service that promotion copies. */
  serviceFields: ["image", "env"] as const,
} as const;

export type PromotableField = (typeof PROMOTABLE.serviceFields)[number];

/** A promoted image must end in a digest; the tag before it is informational. */
export const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * True when a path inside a parsed stack file (`["config", "panopticon:services",
 * "judge-service", "env", "LOG_LEVEL"]`) lies in the promotable set. Paths are
 * compared segment by segment, so a key that merely contains a dot cannot
 * smuggle itself in.
 */
export function isPromotablePath(path: readonly string[]): boolean {
  if (path.length >= 2 && path[0] === "config" && path[1] === PROMOTABLE.releaseKey) return true;
  if (path.length < 4) return false;
  const [root, key, , field] = path;
  if (root !== "config" || key !== PROMOTABLE.servicesKey) return false;
  if (field === "image") return path.length === 4;
  // `env` itself (an empty map) or one key of it; deeper means a non-string value
  // such as `{secure: ...}`, which is never promoted.
  if (field === "env") return path.length === 4 || path.length === 5;
  return false;
}

/** `panopticon:services.judge-service.env.LOG_LEVEL`, as the diff prints it. */
export function displayKey(service: string, field: PromotableField, envKey?: string): string {
  const base = `${PROMOTABLE.servicesKey}.${service}.${field}`;
  return envKey === undefined ? base : `${base}.${envKey}`;
}
