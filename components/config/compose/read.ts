import type * as Yaml from "yaml";
import { composeSchema, serviceSchema, SUPPORTED_SERVICE_KEYS } from "./schema";
import { readService } from "./service";
import type { ComposeFile, ComposeService } from "./types";
import { SERVICE_NAME, SERVICE_NAME_HINT } from "../naming";

/*
 * A checkout's docker-compose.yml, read and validated into typed services
 * (components/config/compose/service.ts reads each one). What the
 * program cannot translate faithfully is a problem naming the service, the key and
 * what to do; the policy on top (components/config/catalogue.ts) decides what the values
 * mean for data, secrets and the database.
 */

export type { Port, Volume } from "./units";
export type { ComposeFile, ComposeHealthcheck, ComposeService, EnvEntry, Restart } from "./types";

/** Keys the program refuses by name, with why; every other unknown key gets the generic hint. */
const UNSUPPORTED_HINTS: Readonly<Record<string, string>> = {
  network_mode: "every service joins the stack's one network",
  networks: "every service joins the stack's one network",
  secrets: "secrets come from stack config (pulumi config set --secret)",
  configs: "the program mounts no config files",
  profiles: "every service of the file is deployed; remove one with services.<name>: false",
  extends: "write the service out in full",
  env_file: "set variables in environment: or in services.<name>.env",
  container_name: "container names are stack-scoped (panopticon-<stack>-<service>)",
  stop_grace_period: "set panopticon:stopGraceSeconds",
};
const TOP_LEVEL = new Set(["version", "name", "services", "volumes"]);

/** Parses compose YAML text into a plain map; YAML errors are problems. */
export function parseComposeText(text: string, origin: string, problems: string[]): unknown {
  // Loaded here, not at start: a stack whose compose file is cached (source.ts) or
  // promoted into its config never needs the YAML parser.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseDocument } = require("yaml") as typeof Yaml;
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) {
    problems.push(`${origin}: not valid YAML (${doc.errors[0].message.split("\n")[0]})`);
    return undefined;
  }
  return doc.toJS({ maxAliasCount: 1000 });
}

/** Reads an uninterpolated compose map; every untranslatable key is pushed to `problems`. */
export function readCompose(map: unknown, origin: string, problems: string[]): ComposeFile {
  const empty: ComposeFile = { origin, services: [], volumes: {} };
  const top = composeSchema.safeParse(map);
  if (!top.success) {
    problems.push(`${origin}: expected a compose file with a services: map`);
    return empty;
  }
  for (const k of Object.keys(top.data)) {
    if (!TOP_LEVEL.has(k) && !k.startsWith("x-")) {
      problems.push(
        `${origin}: top-level ${k}: is not supported (${UNSUPPORTED_HINTS[k] ?? "the program cannot translate it"}); remove it from the compose file`,
      );
    }
  }
  const volumes: Record<string, { external?: string }> = {};
  for (const [name, decl] of Object.entries(top.data.volumes ?? {})) {
    volumes[name] = decl?.external ? { external: decl.name ?? name } : {};
  }
  const services: ComposeService[] = [];
  for (const [name, rawSvc] of Object.entries(top.data.services)) {
    const at = (key: string) => `${origin}: services.${name}.${key}`;
    if (!SERVICE_NAME.test(name)) {
      problems.push(`${origin}: services.${name}: ${SERVICE_NAME_HINT}`);
      continue;
    }
    const unknown = Object.keys(rawSvc).filter((k) => !SUPPORTED_SERVICE_KEYS.includes(k));
    for (const k of unknown) {
      problems.push(
        `${at(k)} is not supported (${UNSUPPORTED_HINTS[k] ?? "the program cannot translate it faithfully"}): remove it, or express it as ${"panopticon:services." + name} stack config (docs/configuration.md)`,
      );
    }
    if (unknown.length > 0) continue;
    const parsed = serviceSchema.safeParse(rawSvc);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${at(issue.path.join("."))}: ${shapeHint(issue.path)}`);
      }
      continue;
    }
    const svc = readService(name, parsed.data, at, problems);
    if (svc) services.push(svc);
  }
  for (const svc of services) {
    for (const v of svc.volumes) {
      if (v.kind === "volume" && !(v.source in volumes)) {
        problems.push(
          `${origin}: services.${svc.name}.volumes: volume ${JSON.stringify(v.source)} is not declared under the top-level volumes:`,
        );
      }
    }
  }
  return { origin, services, volumes };
}

function shapeHint(path: ReadonlyArray<PropertyKey>): string {
  const key = String(path[0]);
  const hints: Record<string, string> = {
    ports: 'expected a list of "[ip:]host:container" strings or {target, published, host_ip}',
    volumes: 'expected a list of "source:target[:ro]" strings or {type, source, target}',
    environment: "expected a list of KEY=value strings or a map",
    depends_on: "expected a list of services or a map of service: {condition}",
    healthcheck: "expected {test, interval, timeout, retries, start_period}",
    deploy: "only deploy.resources.limits {cpus, memory} is supported",
    build: "expected a context path or {context, dockerfile, args}",
  };
  return hints[key] ?? "has an unexpected type";
}
