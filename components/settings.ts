import { z } from "zod";
import { Environment, ProtectionPolicy, protectionPolicy } from "./protection";
import { bindPath, containerName, networkName, PROJECT, volumeName } from "./naming";
import { AwsSettings, awsSchema, DEFAULT_AWS_BACKENDS, rdsIdentifier } from "./settings-aws";
import { DEFAULT_SERVICES, DEFAULTS } from "./defaults";
import { ImageSettings, imagesSchema, resolveImages } from "./settings-images";

export { DEFAULT_SERVICES, DEFAULTS };

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

/** Keys read as Pulumi secrets, never as plain settings. */
export const SECRET_KEYS = ["postgresPassword"] as const;

// ---------------------------------------------------------------- schema

const DNS_LABEL = /^[a-z][a-z0-9-]{0,40}[a-z0-9]$/;
const DATA_SET = /^[a-z][a-z0-9_]{0,40}$/;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Reserved: the program injects the connection settings itself. */
const RESERVED_ENV = /^(POSTGRES_|DATABASE_URL$|PGPASSWORD$)/;
const SIGNAL = /^SIG[A-Z0-9]+$/;

const port = z
  .number({ error: "expected an integer port between 1 and 65535" })
  .int("expected an integer port between 1 and 65535")
  .min(1, "expected an integer port between 1 and 65535")
  .max(65535, "expected an integer port between 1 and 65535");

const image = z
  .string({
    error: "expected a container image reference, e.g. postgres:16.4 or repo@sha256:<digest>",
  })
  .regex(
    /^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/,
    "expected a container image reference, e.g. postgres:16.4 or repo@sha256:<digest>",
  );

const id = z
  .number({ error: "expected a numeric uid/gid between 0 and 65535" })
  .int("expected a numeric uid/gid between 0 and 65535")
  .min(0, "expected a numeric uid/gid between 0 and 65535")
  .max(65535, "expected a numeric uid/gid between 0 and 65535");

const dataSchema = z
  .object({
    set: z.string().regex(DATA_SET, "expected a data-set key: lower case, digits, _ (e.g. judge)"),
    path: z.string().regex(/^\/\S*$/, "expected an absolute path inside the container"),
    bindDir: z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a single directory name"),
    composeVolume: z.string().regex(DOCKER_NAME, "expected a Docker volume name"),
    uid: id,
    gid: id,
  })
  .partial()
  .strict();

const serviceSchema = z
  .object({
    kind: z.enum(["postgres", "app"], { error: 'expected "postgres" or "app"' }),
    image,
    port,
    hostPort: z.union([port, z.literal(false)], {
      error: "expected an integer port between 1 and 65535, or false for no published port",
    }),
    stopSignal: z.string().regex(SIGNAL, "expected a signal name such as SIGTERM"),
    env: z.record(
      z
        .string()
        .regex(ENV_KEY, "expected an environment variable name")
        .refine((k) => !RESERVED_ENV.test(k), {
          message: "is reserved: the program injects the Postgres connection settings",
        }),
      z.string({ error: "expected a string value (quote numbers and booleans)" }),
    ),
    data: z.union([dataSchema, z.literal(false)], {
      error: "expected a data mapping {set, path, uid, gid, bindDir} or false",
    }),
    healthcheck: z.array(z.string()).min(1, "expected a non-empty command, e.g. [CMD, pg_isready]"),
    command: z.array(z.string()),
  })
  .partial()
  .strict();

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
    postgresDatabase: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a Postgres identifier"),
    postgresUser: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a Postgres identifier"),
    services: z.record(
      z.string().regex(DNS_LABEL, "expected a service name: lower case, digits and -"),
      serviceSchema,
    ),
    volumeNames: z.record(
      z.string(),
      z.string().regex(DOCKER_NAME, "expected a Docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
    ),
    adoptComposeVolumes: z.boolean({ error: "expected true or false" }),
    aws: awsSchema,
    ...imagesSchema,
  })
  .partial()
  .strict();

type RawSettings = z.infer<typeof rawSchema>;

// ---------------------------------------------------------------- resolved settings

export interface DataSetSettings {
  /** Data-set key, e.g. `judge`. */
  readonly key: string;
  /** The service whose container mounts it. */
  readonly service: string;
  /** Mount path inside the container. */
  readonly mountPath: string;
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

export interface ServiceSettings {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly containerName: string;
  readonly image: string;
  readonly port: number;
  readonly hostPort: number | false;
  readonly stopSignal: string;
  /** App-level environment, sorted by key. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly healthcheck: readonly string[];
  readonly command?: readonly string[];
  readonly dataSet?: DataSetSettings;
}

export interface Settings {
  readonly project: string;
  readonly stack: string;
  readonly environment: Environment;
  readonly storageMode: StorageMode;
  readonly dataDir: string;
  readonly bindAddress: string;
  readonly stopGraceSeconds: number;
  readonly initImage: string;
  readonly networkName: string;
  readonly protection: ProtectionPolicy;
  readonly postgres: { readonly database: string; readonly user: string };
  /** All services, sorted by name; on AWS without the postgres container. */
  readonly services: readonly ServiceSettings[];
  /** All data sets, sorted by key. */
  readonly dataSets: readonly DataSetSettings[];
  readonly aws?: AwsSettings;
  /** Per service: built from panopticon:appSource or prebuilt (components/settings-images.ts). */
  readonly images: ImageSettings;
}

export interface LoadContext {
  readonly stack: string;
  /** Directory relative bind paths resolve against (the project directory). */
  readonly baseDir: string;
  readonly project?: string;
}

/** A configuration error: names every bad key, its value and what was expected. */
export class ConfigError extends Error {
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
  return issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys
        .map((k) => `${keyOf([...issue.path, k])} is not a known setting (check the spelling)`)
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
  const adoptRds = r.aws?.adopt.rdsInstanceIdentifier;
  if (adoptRds !== undefined && adoptRds !== rdsIdentifier(project, ctx.stack)) {
    problems.push(
      `${PROJECT}:aws.adopt.rdsInstanceIdentifier = ${show(adoptRds)}: expected this stack's instance "${rdsIdentifier(project, ctx.stack)}" (importing another identifier would plan its replacement)`,
    );
  }
  const awsBackends: Record<string, AwsBackend> = { ...DEFAULT_AWS_BACKENDS, ...r.aws?.storage };

  // Merge configured services over the defaults.
  const names = new Set([...Object.keys(DEFAULT_SERVICES), ...Object.keys(r.services ?? {})]);
  const services: ServiceSettings[] = [];
  const dataSets: DataSetSettings[] = [];
  for (const name of [...names].sort()) {
    const base = (DEFAULT_SERVICES as Record<string, z.infer<typeof serviceSchema>>)[name];
    const over = r.services?.[name] ?? {};
    const key = (field: string) => `${PROJECT}:services.${name}.${field}`;
    const kind = over.kind ?? base?.kind ?? "app";
    const img = over.image ?? base?.image;
    const svcPort = over.port ?? base?.port;
    if (img === undefined) problems.push(`${key("image")} = (missing): expected a container image`);
    if (svcPort === undefined)
      problems.push(`${key("port")} = (missing): expected the container port`);
    if (base === undefined && over.hostPort === undefined) {
      // New services publish nothing unless asked to.
    }
    if (img === undefined || svcPort === undefined) continue;
    const env = { ...(base?.env ?? {}), ...(over.env ?? {}) };
    const baseData = base?.data === false ? undefined : base?.data;
    const data = over.data === false ? undefined : { ...(baseData ?? {}), ...(over.data ?? {}) };
    let dataSet: DataSetSettings | undefined;
    if (data !== undefined && (data.path !== undefined || baseData !== undefined)) {
      const set = data.set ?? name.replace(/-/g, "_");
      if (data.path === undefined) {
        problems.push(
          `${key("data.path")} = (missing): expected the mount path inside the container`,
        );
        continue;
      }
      const backend: StorageMode | AwsBackend =
        environment === "aws" ? (awsBackends[set] ?? "ebs") : storageMode;
      const configured = r.volumeNames?.[set];
      const compose = r.adoptComposeVolumes ? data.composeVolume : undefined;
      const adoptedName = configured ?? compose;
      const uid = data.uid ?? 0;
      const gid = data.gid ?? uid;
      const bindDir = data.bindDir ?? set;
      const usesVolume = backend === "volume" || backend === "efs";
      dataSet = {
        key: set,
        service: name,
        mountPath: data.path,
        uid,
        gid,
        backend,
        volumeName: usesVolume ? (adoptedName ?? volumeName(project, ctx.stack, set)) : undefined,
        hostPath:
          backend === "bind"
            ? bindPath(ctx.baseDir, dataDir, bindDir)
            : backend === "ebs"
              ? `${r.aws?.dataMountPath ?? "/mnt/panopticon-data"}/${ctx.stack}/${bindDir}`
              : undefined,
        adopted: usesVolume ? adoptedName !== undefined : backend === "bind",
      };
      if (!(environment === "aws" && kind === "postgres")) dataSets.push(dataSet);
    }
    if (environment === "aws" && kind === "postgres") continue; // RDS replaces the container
    services.push({
      name,
      kind,
      containerName: containerName(project, ctx.stack, name),
      image: img,
      port: svcPort,
      hostPort: over.hostPort ?? base?.hostPort ?? false,
      stopSignal: over.stopSignal ?? base?.stopSignal ?? "SIGTERM",
      env: Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      healthcheck:
        over.healthcheck ??
        (kind === "postgres"
          ? [
              "CMD-SHELL",
              `pg_isready -q -h 127.0.0.1 -p ${svcPort} -U "$POSTGRES_USER" -d "$POSTGRES_DB"`,
            ]
          : ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${svcPort}/health || exit 1`]),
      command: over.command,
      dataSet,
    });
  }

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
          .join(", ")})`,
      );
    }
  }
  for (const set of Object.keys(r.aws?.storage ?? {})) {
    if (!dataSets.some((d) => d.key === set)) {
      problems.push(
        `${PROJECT}:aws.storage.${set} = ${show(r.aws?.storage?.[set])}: no data set "${set}" (known: ${dataSets
          .map((d) => d.key)
          .join(", ")})`,
      );
    }
  }
  dupes(dataSets, (d) => d.key, "data set", problems);
  dupes(dataSets, (d) => d.volumeName, "volume name", problems);
  dupes(dataSets, (d) => d.hostPath, "host directory", problems);
  dupes(
    services.filter((s) => s.hostPort !== false),
    (s) => String(s.hostPort),
    "published port",
    problems,
  );
  const images = resolveImages(r, services, { baseDir: ctx.baseDir, environment }, problems);
  if (problems.length > 0) throw new ConfigError(ctx.stack, problems);

  return {
    project,
    stack: ctx.stack,
    environment,
    storageMode,
    dataDir,
    bindAddress: r.bindAddress ?? DEFAULTS.bindAddress,
    stopGraceSeconds: r.stopGraceSeconds ?? DEFAULTS.stopGraceSeconds,
    initImage: r.initImage ?? DEFAULTS.initImage,
    networkName: networkName(project, ctx.stack),
    protection: protectionPolicy(environment, r.protect),
    postgres: {
      database: r.postgresDatabase ?? DEFAULTS.postgresDatabase,
      user: r.postgresUser ?? DEFAULTS.postgresUser,
    },
    services,
    dataSets: [...dataSets].sort((a, b) => (a.key < b.key ? -1 : 1)),
    aws: r.aws,
    images,
  };
}

function dupes<T>(
  items: readonly T[],
  keyFn: (t: T) => string | undefined,
  what: string,
  problems: string[],
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
        `duplicate ${what} ${show(k)} used by both "${who(first)}" and "${who(item)}": expected each to be unique`,
      );
    } else {
      seen.set(k, item);
    }
  }
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
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
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
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
    out[key] = v;
  }
  return out;
}
