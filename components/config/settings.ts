import { z } from "zod";
import { Environment, ProtectionPolicy, protectionPolicy } from "../protection";
import { bindPath, containerName, networkName, PROJECT, volumeName } from "./naming";
import { AwsSettings, awsSchema, DEFAULT_AWS_BACKENDS, rdsIdentifier } from "./aws";
import { DEFAULTS } from "./defaults";
import { Layout, secretConfigKey } from "./catalogue";
import { loadCatalogue, Release } from "./compose/source";
import {
  dependencyCycle,
  DOCKER_NAME,
  image,
  postgresMajorOf,
  ResolvedService,
  resolveServices,
  servicesSchema,
} from "./services";
import { dockerfileMajorAt, ImageSettings, imagesSchema, resolveImages } from "./images";
import { ecsServiceInput, EcsPlan, planEcs } from "./ecs-plan";
import { keysAt } from "./keys";
import { badMountPath, safetyProblems } from "./safety";
import { didYouMean } from "./suggest";

export { DEFAULTS };

/*
 * The whole stack configuration, validated once into one typed object.
 *
 * Input is the plain map of `panopticon:*` values, without the namespace prefix
 * (`storageMode`, `services`, ...), as Pulumi hands them to the program or as they
 * stand in `Pulumi.<stack>.yaml`. The secret `postgresPassword` is never part of it:
 * index.ts reads it as a Pulumi secret.
 */

export type StorageMode = "volume" | "bind";
export type AwsBackend = "efs" | "ebs";
export type ServiceKind = "postgres" | "app";

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

// ---------------------------------------------------------------- schema

const PG_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

const rawSchema = z
  .object({
    environment: z.enum(["local", "aws"], { error: 'expected "local" or "aws"' }),
    storageMode: z.enum(["volume", "bind"], { error: 'expected "volume" or "bind"' }),
    dataDir: z.string().min(1, "expected a directory path"),
    bindAddress: z.union([z.ipv4(), z.ipv6()], {
      error: "expected an IP address to publish ports on, e.g. 127.0.0.1",
    }),
    stopGraceSeconds: z
      .number({ error: "expected an integer number of seconds, at least 60" })
      .int("expected an integer number of seconds, at least 60")
      .min(60, "expected an integer number of seconds, at least 60 (databases need time to stop)")
      .max(3600, "expected at most 3600 seconds"),
    protect: z.boolean({ error: "expected true or false" }),
    initImage: image,
    postgresDatabase: z.string().regex(PG_IDENT, "expected a Postgres identifier"),
    postgresUser: z.string().regex(PG_IDENT, "expected a Postgres identifier"),
    postgresMajor: z
      .number({ error: "expected a Postgres major version such as 15" })
      .int("expected a Postgres major version such as 15")
      .min(9, "expected a Postgres major version such as 15")
      .max(99, "expected a Postgres major version such as 15"),
    logLevel: z.enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], {
      error: "expected a Python log level: DEBUG, INFO, WARNING, ERROR or CRITICAL",
    }),
    services: servicesSchema,
    volumeNames: z.record(
      z.string(),
      z.string().regex(DOCKER_NAME, "expected a Docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
    ),
    adoptComposeVolumes: z.boolean({ error: "expected true or false" }),
    acknowledgeUnmigratedData: z.boolean({ error: "expected true or false" }),
    aws: awsSchema,
    release: z
      .object({
        source: z
          .object({
            commit: z.string().nullable(),
            dirty: z.boolean().nullable(),
          })
          .partial()
          .strict(),
        compose: z.record(z.string(), z.unknown(), {
          error: "expected the promoted docker-compose.yml as a map (written by npm run promote)",
        }),
      })
      .partial({ source: true })
      .strict(),
    ...imagesSchema,
  })
  .partial()
  .strict();

type RawSettings = z.infer<typeof rawSchema>;

/** The schema of the `panopticon:` namespace (secrets aside); the docs check lists its keys. */
export const configSchema = rawSchema;

// ---------------------------------------------------------------- resolved settings

export interface DataSetSettings {
  /** Data-set key, e.g. `judge`. */
  readonly key: string;
  /** The service whose container mounts it. */
  readonly service: string;
  /** Mount path inside the container: where the service reads its data. */
  readonly mountPath: string;
  /** The variable the program sets to `mountPath`; undefined where the image reads a fixed path. */
  readonly persistEnv?: string;
  readonly uid: number;
  readonly gid: number;
  /** `volume`/`bind` locally; `efs`/`ebs` on AWS. */
  readonly backend: StorageMode | AwsBackend;
  /** Docker volume name (volume and efs backends). */
  readonly volumeName?: string;
  /** Host directory (bind and ebs backends). */
  readonly hostPath?: string;
  /** True when the name or directory comes from config (an existing compose-era volume). */
  readonly adopted: boolean;
}

/** A resolved service (components/config/services.ts) with its physical name and storage. */
export interface ServiceSettings extends Omit<ResolvedService, "data"> {
  readonly containerName: string;
  readonly dataSet?: DataSetSettings;
}

/** A secret variable and the stack config key it is read from. */
export interface SecretSetting {
  readonly env: string;
  readonly configKey: string;
}

export interface Settings {
  readonly project: string;
  /** Where the services come from: the checkout's compose file or the promoted release. */
  readonly layout: {
    readonly kind: Layout;
    /** `<checkout>/docker-compose.yml` or `panopticon:release.compose`. */
    readonly origin: string;
    /** The checkout's directory; undefined for a promoted release. */
    readonly checkout?: string;
    /** What promotion carries to a stack without a checkout (dev's `release` output). */
    readonly release: Release;
  };
  readonly stack: string;
  readonly environment: Environment;
  readonly storageMode: StorageMode;
  readonly dataDir: string;
  readonly bindAddress: string;
  readonly stopGraceSeconds: number;
  readonly initImage: string;
  readonly networkName: string;
  readonly protection: ProtectionPolicy;
  /** The database the apps use; `major` is the server's Postgres major version. */
  readonly postgres: {
    readonly database: string;
    readonly user: string;
    /** The Postgres major the data needs (postgresMajor, else the image's tag). */
    readonly major?: number;
    /** The service that runs it (none on AWS: RDS). */
    readonly service?: string;
  };
  /** The secret variables some service declares, with their config keys. */
  readonly secrets: readonly SecretSetting[];
  /** All services, sorted by name; on AWS without the postgres container. */
  readonly services: readonly ServiceSettings[];
  /** All data sets, sorted by key. */
  readonly dataSets: readonly DataSetSettings[];
  /** Where the services run; one runtime each (index.ts picks it by `kind`). */
  readonly target: Target;
  /**
   * The same object as `target.aws` (undefined for a local stack), for the data tools
   * that read it today; new code reads `target`.
   */
  readonly aws?: AwsSettings;
  /** Per service: built from panopticon:appSource or prebuilt (components/config/images.ts). */
  readonly images: ImageSettings;
  /** Deploy release 0.1 over compose-era data left unmigrated (components/unmigrated.ts). */
  readonly acknowledgeUnmigratedData: boolean;
  /** The data sets mount the compose-era volumes (`panopticon_<set>_data`). */
  readonly adoptComposeVolumes: boolean;
}

/**
 * Where a stack's services run: the local Docker engine, the EC2 Docker host, or ECS
 * Fargate with its plan. A runtime that needs AWS settings (or an ECS plan) cannot be
 * built without them: the type has no combination the config refuses.
 */
export type Target =
  | { readonly kind: "local" }
  | { readonly kind: "docker-host"; readonly aws: AwsSettings }
  | { readonly kind: "ecs"; readonly aws: AwsSettings; readonly ecs: EcsPlan };

/** The target of validated settings (the schema has refused every other combination). */
export function targetOf(aws: AwsSettings | undefined, ecs: EcsPlan | undefined): Target {
  if (aws === undefined) return { kind: "local" };
  if (aws.runtime === "docker-host") return { kind: "docker-host", aws };
  if (ecs === undefined) throw new Error("aws.runtime ecs without an ECS plan");
  return { kind: "ecs", aws, ecs };
}

export interface LoadContext {
  readonly stack: string;
  /** Directory relative bind paths resolve against (the project directory). */
  readonly baseDir: string;
  readonly project?: string;
  /**
   * Secret keys (`apiKey`, ...) that the stack sets in plain text; each is refused.
   * See plainSecretKeys(). @default none
   */
  readonly plainSecrets?: readonly string[];
  /** Secret keys the stack sets to an empty value. See emptySecretKeys(). @default none */
  readonly emptySecrets?: readonly string[];
}

/**
 * A configuration error: names every bad key, its value and what was expected.
 *
 * It is a Pulumi `RunError` to the language host, which then prints the message alone
 * (no "unhandled exception", no stack): the SDK recognises a RunError by this marker
 * field (`RunError.isInstance`, made for several SDK copies in one process), so the
 * settings code stays free of the SDK that the data tools would otherwise load.
 * tests/cli-refusal.test.ts runs the real language host to keep this true.
 */
export class ConfigError extends Error {
  readonly __pulumiRunError = true;
  constructor(
    readonly stackName: string,
    readonly problems: readonly string[],
  ) {
    super(
      `Invalid configuration for stack "${stackName}" (nothing was created or changed):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function keyOf(path: ReadonlyArray<PropertyKey>): string {
  return `${PROJECT}:${path.map(String).join(".")}`;
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Turns zod issues into `key = value: expected ...` lines. */
export function describeIssues(raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    // `settings | false`: report why the settings branch failed, not the union itself.
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const branches = issue.errors.filter(
        (b) => b.length > 0 && !b.every((e) => e.code === "invalid_value" && e.path.length === 0),
      );
      if (branches.length === 1 && branches[0].every((e) => e.path.length > 0)) {
        const nested = branches[0].map((e) => ({ ...e, path: [...issue.path, ...e.path] }));
        return describeIssues(raw, nested as z.core.$ZodIssue[]);
      }
    }
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(rawSchema, issue.path);
      return issue.keys
        .map((k) => {
          const hint = didYouMean(k, known);
          return `${keyOf([...issue.path, k])} is not a known setting${hint === "" ? " (check the spelling)" : hint}`;
        })
        .join("; ");
    }
    if (issue.code === "invalid_key") {
      const bad = issue.path[issue.path.length - 1];
      return `${keyOf(issue.path)}: name ${show(bad)} ${issue.issues[0]?.message ?? issue.message}`;
    }
    const path = issue.path;
    return `${keyOf(path)} = ${show(valueAt(raw, path))}: ${issue.message}`;
  });
}

/**
 * Validates the raw `panopticon:*` map and resolves it into Settings: defaults
 * applied, services merged with their defaults, physical names derived. Throws
 * ConfigError listing every problem; pure, so it runs before any resource exists.
 */
export function parseSettings(raw: Record<string, unknown>, ctx: LoadContext): Settings {
  const project = ctx.project ?? PROJECT;
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(ctx.stack, describeIssues(raw, parsed.error.issues));
  }
  const r: RawSettings = parsed.data;
  const problems: string[] = [];

  const environment = r.environment ?? DEFAULTS.environment;
  const storageMode = r.storageMode ?? DEFAULTS.storageMode;
  const dataDir = r.dataDir ?? DEFAULTS.dataDir;
  if (environment === "aws" && r.protect === false) {
    problems.push(
      `${PROJECT}:protect = false: AWS stacks always protect stateful resources; remove the key`,
    );
  }
  if (environment === "aws" && r.aws === undefined) {
    problems.push(`${PROJECT}:aws = (missing): expected the aws settings for environment "aws"`);
  }
  if (environment === "local" && r.aws !== undefined) {
    problems.push(
      `${PROJECT}:aws is set but ${PROJECT}:environment = "local": set environment to "aws" or remove the aws block`,
    );
  }
  if (environment === "aws" && r.storageMode !== undefined) {
    problems.push(
      `${PROJECT}:storageMode = ${show(r.storageMode)}: applies to local stacks only; on AWS choose per data set in ${PROJECT}:aws.storage`,
    );
  }
  if (storageMode === "bind" && r.volumeNames !== undefined) {
    problems.push(
      `${PROJECT}:volumeNames = ${show(r.volumeNames)}: applies to storageMode "volume" only; in bind mode point ${PROJECT}:dataDir at the existing directories`,
    );
  }
  problems.push(
    ...safetyProblems(raw, {
      environment,
      storageMode,
      dataDir,
      baseDir: ctx.baseDir,
      dataMountPath: r.aws?.dataMountPath,
      initImage: r.initImage,
      services: r.services,
      emptySecrets: ctx.emptySecrets ?? [],
    }),
  );
  const adoptRds = r.aws?.adopt.rdsInstanceIdentifier;
  if (adoptRds !== undefined && adoptRds !== rdsIdentifier(project, ctx.stack)) {
    problems.push(
      `${PROJECT}:aws.adopt.rdsInstanceIdentifier = ${show(adoptRds)}: expected this stack's instance "${rdsIdentifier(project, ctx.stack)}" (importing another identifier would plan its replacement)`,
    );
  }
  const awsBackends: Record<string, AwsBackend> = { ...DEFAULT_AWS_BACKENDS, ...r.aws?.storage };

  const loaded = loadCatalogue(r, ctx.baseDir, problems);
  // Without a layout there are no services to check: report what is known so far.
  if (loaded === undefined) throw new ConfigError(ctx.stack, problems);
  const { catalogue } = loaded;
  const postgres = {
    database: r.postgresDatabase ?? catalogue.database.name ?? DEFAULTS.postgresDatabase,
    user: r.postgresUser ?? catalogue.database.user ?? DEFAULTS.postgresUser,
  };
  const resolved = resolveServices(
    catalogue,
    r.services,
    { postgres, logLevel: r.logLevel ?? DEFAULTS.logLevel },
    problems,
  );
  const cycle = dependencyCycle(resolved);
  if (cycle) {
    problems.push(
      `${PROJECT}:services: dependsOn forms a cycle ${cycle.join(" -> ")}: expected a start order`,
    );
  }
  const services: ServiceSettings[] = [];
  const dataSets: DataSetSettings[] = [];
  for (const svc of resolved) {
    const data = svc.data;
    let dataSet: DataSetSettings | undefined;
    if (data !== undefined) {
      const backend: StorageMode | AwsBackend =
        environment === "aws" ? (awsBackends[data.set] ?? "ebs") : storageMode;
      const configured = r.volumeNames?.[data.set];
      const compose = r.adoptComposeVolumes ? data.composeVolume : undefined;
      const adoptedName = configured ?? compose;
      const usesVolume = backend === "volume" || backend === "efs";
      dataSet = {
        key: data.set,
        service: svc.name,
        mountPath: data.path,
        persistEnv: data.persistEnv,
        uid: data.uid,
        gid: data.gid,
        backend,
        volumeName: usesVolume
          ? (adoptedName ?? volumeName(project, ctx.stack, data.set))
          : undefined,
        hostPath:
          backend === "bind"
            ? bindPath(ctx.baseDir, dataDir, data.bindDir)
            : backend === "ebs"
              ? `${r.aws?.dataMountPath ?? "/mnt/panopticon-data"}/${ctx.stack}/${data.bindDir}`
              : undefined,
        adopted: usesVolume ? adoptedName !== undefined : backend === "bind",
      };
    }
    const mountProblem = data === undefined ? undefined : badMountPath(data.path);
    if (mountProblem !== undefined) {
      problems.push(
        `${PROJECT}:services.${svc.name}.data.path = ${show(data!.path)}: ${mountProblem}: expected a directory of the service's own, e.g. /app/data`,
      );
    }
    if (environment === "aws" && svc.kind === "postgres") continue; // RDS replaces the container
    // A service without an image is built from panopticon:appSource (resolveImages).
    if (dataSet) dataSets.push(dataSet);
    const { data: _data, ...rest } = svc;
    services.push({ ...rest, containerName: containerName(project, ctx.stack, svc.name), dataSet });
  }

  // Secrets: every variable some service declares, each read from a config secret.
  const secretEnvs = [...new Set(services.flatMap((svc) => svc.secretEnv))].sort();
  const secrets = secretEnvs.map((env) => ({ env, configKey: secretConfigKey(env) }));
  // compose gives no secret a default (a literal is refused): a key set but empty is a
  // slip, where leaving it unset is a choice.
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

  const pgService = services.find((svc) => svc.kind === "postgres");
  const postgresCount = services.filter((s) => s.kind === "postgres").length;
  if (environment === "local" && postgresCount !== 1) {
    problems.push(
      `${PROJECT}:services: ${postgresCount} services have kind "postgres": expected exactly one`,
    );
  }
  for (const set of Object.keys(r.volumeNames ?? {})) {
    if (!dataSets.some((d) => d.key === set)) {
      problems.push(
        `${PROJECT}:volumeNames.${set} = ${show(r.volumeNames?.[set])}: no data set "${set}" (known: ${dataSets
          .map((d) => d.key)
          .join(", ")})${didYouMean(
          set,
          dataSets.map((d) => d.key),
        )}`,
      );
    }
  }
  for (const set of Object.keys(r.aws?.storage ?? {})) {
    if (!dataSets.some((d) => d.key === set)) {
      problems.push(
        `${PROJECT}:aws.storage.${set} = ${show(r.aws?.storage?.[set])}: no data set "${set}" (known: ${dataSets
          .map((d) => d.key)
          .join(", ")})${didYouMean(
          set,
          dataSets.map((d) => d.key),
        )}`,
      );
    }
  }
  dupes(dataSets, (d) => d.key, "data set", problems);
  dupes(
    dataSets,
    (d) => d.volumeName,
    "volume name",
    problems,
    (d) =>
      r.volumeNames?.[d.key] !== undefined
        ? `${PROJECT}:volumeNames.${d.key}`
        : `data set "${d.key}"${r.adoptComposeVolumes ? ` (${PROJECT}:adoptComposeVolumes)` : ""}`,
  );
  dupes(dataSets, (d) => d.hostPath, "host directory", problems);
  dupes(
    services.filter((s) => s.hostPort !== false),
    (s) => String(s.hostPort),
    "published port",
    problems,
    (s) => `${PROJECT}:services.${s.name}.hostPort`,
  );
  const images = resolveImages(
    r,
    services,
    { baseDir: ctx.baseDir, environment, runtime: r.aws?.runtime },
    problems,
  );
  // The data's Postgres major: postgresMajor, else what runs: a pinned image's tag or the
  // FROM line of the dockerfile it is built from (checkAppSource refuses a mismatch).
  const pgSource = images.services.find((s) => s.service === pgService?.name);
  const pgImage = pgSource?.from === "prebuilt" ? pgSource.image : undefined;
  const major =
    r.postgresMajor ??
    (pgImage !== undefined
      ? postgresMajorOf(pgImage)
      : pgSource?.from === "build"
        ? dockerfileMajorAt(pgSource.build.dockerfile)
        : undefined);
  if (pgService && pgImage && r.postgresMajor === undefined && major === undefined) {
    problems.push(
      `${PROJECT}:services.${pgService.name}.image = ${show(pgImage)}: its Postgres major cannot be read from the reference; set ${PROJECT}:postgresMajor (e.g. 15)`,
    );
  }
  const ecs =
    r.aws?.ecs !== undefined && r.aws.runtime === "ecs"
      ? planEcs(services.map(ecsServiceInput), r.aws.ecs)
      : undefined;
  problems.push(...(ecs?.problems ?? []));
  if (problems.length > 0) throw new ConfigError(ctx.stack, problems);

  return {
    project,
    layout: {
      kind: catalogue.layout,
      origin: catalogue.origin,
      checkout: loaded.source.checkout,
      release: { source: r.release?.source, compose: loaded.source.compose },
    },
    stack: ctx.stack,
    environment,
    storageMode,
    dataDir,
    bindAddress: r.bindAddress ?? DEFAULTS.bindAddress,
    stopGraceSeconds: r.stopGraceSeconds ?? DEFAULTS.stopGraceSeconds,
    initImage: r.initImage ?? DEFAULTS.initImage,
    networkName: networkName(project, ctx.stack),
    protection: protectionPolicy(environment, r.protect),
    postgres: { ...postgres, major, service: pgService?.name },
    secrets,
    services,
    dataSets: [...dataSets].sort((a, b) => (a.key < b.key ? -1 : 1)),
    target: targetOf(r.aws, ecs?.plan),
    aws: r.aws,
    acknowledgeUnmigratedData: r.acknowledgeUnmigratedData ?? false,
    adoptComposeVolumes: r.adoptComposeVolumes ?? false,
    images,
  };
}

/**
 * One problem per value two items share. With `keyOf`, the problem names the config
 * keys that set it, so the user knows which one to change.
 */
function dupes<T>(
  items: readonly T[],
  keyFn: (t: T) => string | undefined,
  what: string,
  problems: string[],
  keyOf?: (t: T) => string,
): void {
  const seen = new Map<string, T>();
  for (const item of items) {
    const k = keyFn(item);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first !== undefined) {
      const who = (t: T) =>
        (t as { key?: string; name?: string }).key ?? (t as { name?: string }).name ?? "?";
      problems.push(
        `duplicate ${what} ${show(k)} used by both "${who(first)}" and "${who(item)}": expected each to be unique` +
          (keyOf ? `; change ${keyOf(first)} or ${keyOf(item)}` : ""),
      );
    } else {
      seen.set(k, item);
    }
  }
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
