import { Environment, ProtectionPolicy, protectionPolicy } from "../protection";
import { networkName, PROJECT } from "./naming";
import { AwsSettings, DEFAULT_AWS_BACKENDS } from "./aws";
import { DEFAULTS } from "./defaults";
import { Layout } from "./catalogue";
import { loadCatalogue, Release } from "./compose/source";
import { dependencyCycle, postgresMajorOf, resolveServices } from "./services";
import { dockerfileMajorAt, ImageSettings, resolveImages } from "./images";
import { ecsServiceInput, EcsPlan, planEcs } from "./ecs-plan";
import { configSchema, RawSettings } from "./config-schema";
import { crossKeyProblems, Scope } from "./cross-checks";
import { DataSetSettings, dataSetProblems, StorageMode } from "./data-sets";
import { ConfigError, describeIssues, show } from "./problems";
import { SecretSetting, secretSettings } from "./secrets";
import {
  postgresCountProblems,
  publishedPortProblems,
  ServiceSettings,
  stackServices,
} from "./stack-services";
import { cycleProblem } from "./start-order";

/*
 * The whole stack configuration, validated once into one typed object.
 *
 * Input is the plain map of `panopticon:*` values, without the namespace prefix
 * (`storageMode`, `services`, ...), as Pulumi hands them to the program or as they
 * stand in `Pulumi.<stack>.yaml`. The secret `postgresPassword` is never part of it:
 * index.ts reads it as a Pulumi secret.
 *
 * parseSettings runs small steps, each in a file of its own: the schema
 * (config-schema.ts), keys that contradict each other (cross-checks.ts), the services
 * (services.ts over the catalogue), where each lives (stack-services.ts, data-sets.ts),
 * secrets (secrets.ts), images (images.ts) and the ECS plan (ecs-plan.ts). Every step
 * adds to one list of problems, reported together (problems.ts) before anything exists.
 */

export { DEFAULTS };
export { configSchema, ConfigError, describeIssues };
export type { AwsBackend, DataSetSettings, StorageMode } from "./data-sets";
export type { BindDataSet, EbsDataSet, EfsDataSet, VolumeDataSet } from "./data-sets";
export type { ServiceSettings } from "./stack-services";
export type { SecretSetting } from "./secrets";
export { emptySecretKeys, isSecretConfigKey, plainSecretKeys, SECRET_KEYS } from "./secrets";
export { rawFromPulumiConfig, rawFromStackFile } from "./config-map";

export type ServiceKind = "postgres" | "app";

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

/** The raw map, validated by the schema; every schema problem at once. */
function validated(raw: Record<string, unknown>, stack: string): RawSettings {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(stack, describeIssues(raw, parsed.error.issues));
  return parsed.data;
}

/** The data's Postgres major: postgresMajor, else what runs (a pinned image's tag or the
 * FROM line of the dockerfile it is built from; checkAppSource refuses a mismatch). */
function postgresMajor(
  r: RawSettings,
  pgService: string | undefined,
  images: ImageSettings,
  problems: string[],
): number | undefined {
  if (r.postgresMajor !== undefined) return r.postgresMajor;
  const pgSource = images.services.find((s) => s.service === pgService);
  if (pgSource?.from === "build") return dockerfileMajorAt(pgSource.build.dockerfile);
  const pgImage = pgSource?.from === "prebuilt" ? pgSource.image : undefined;
  if (pgImage === undefined) return undefined;
  const major = postgresMajorOf(pgImage);
  if (major === undefined) {
    problems.push(
      `${PROJECT}:services.${pgService}.image = ${show(pgImage)}: its Postgres major cannot be read from the reference; set ${PROJECT}:postgresMajor (e.g. 15)`,
    );
  }
  return major;
}

/** What the steps resolve from a schema-valid config; parseSettings assembles Settings from it. */
interface Resolved {
  readonly scope: Scope;
  readonly loaded: NonNullable<ReturnType<typeof loadCatalogue>>;
  readonly postgres: Settings["postgres"];
  readonly secrets: SecretSetting[];
  readonly services: ServiceSettings[];
  readonly dataSets: DataSetSettings[];
  readonly images: ImageSettings;
  readonly ecs?: { plan?: EcsPlan; problems: string[] };
}

/** Runs every step over a schema-valid config, each adding to `problems`. */
function resolveStack(
  raw: Record<string, unknown>,
  r: RawSettings,
  ctx: LoadContext & { readonly project: string },
  problems: string[],
): Resolved {
  const scope: Scope = {
    environment: r.environment ?? DEFAULTS.environment,
    storageMode: r.storageMode ?? DEFAULTS.storageMode,
    dataDir: r.dataDir ?? DEFAULTS.dataDir,
  };
  problems.push(...crossKeyProblems(raw, r, scope, ctx));
  const loaded = loadCatalogue(r, ctx.baseDir, problems);
  // Without a layout there are no services to check: report what is known so far.
  if (loaded === undefined) throw new ConfigError(ctx.stack, problems);
  const { catalogue } = loaded;
  const names = {
    database: r.postgresDatabase ?? catalogue.database.name ?? DEFAULTS.postgresDatabase,
    user: r.postgresUser ?? catalogue.database.user ?? DEFAULTS.postgresUser,
  };
  const logLevel = r.logLevel ?? DEFAULTS.logLevel;
  const resolved = resolveServices(catalogue, r.services, { postgres: names, logLevel }, problems);
  const cycle = dependencyCycle(resolved);
  if (cycle) problems.push(cycleProblem(cycle));
  const awsBackends = { ...DEFAULT_AWS_BACKENDS, ...r.aws?.storage };
  const { volumeNames, adoptComposeVolumes } = r;
  const placement = { ...ctx, ...scope, volumeNames, adoptComposeVolumes, awsBackends };
  const { services, dataSets } = stackServices(
    resolved,
    { ...placement, dataMountPath: r.aws?.dataMountPath },
    problems,
  );
  const secrets = secretSettings(services, ctx, problems);
  problems.push(...postgresCountProblems(scope.environment, services));
  dataSetProblems(
    dataSets,
    { volumeNames, awsStorage: r.aws?.storage, adoptComposeVolumes },
    problems,
  );
  publishedPortProblems(services, problems);
  const imageCtx = {
    baseDir: ctx.baseDir,
    environment: scope.environment,
    runtime: r.aws?.runtime,
  };
  const images = resolveImages(r, services, imageCtx, problems);
  const pgService = services.find((svc) => svc.kind === "postgres")?.name;
  const major = postgresMajor(r, pgService, images, problems);
  const ecs =
    r.aws?.ecs !== undefined && r.aws.runtime === "ecs"
      ? planEcs(services.map(ecsServiceInput), r.aws.ecs)
      : undefined;
  problems.push(...(ecs?.problems ?? []));
  const postgres = { ...names, major, service: pgService };
  return { scope, loaded, postgres, secrets, services, dataSets, images, ecs };
}

/**
 * Validates the raw `panopticon:*` map and resolves it into Settings: defaults
 * applied, services merged with their defaults, physical names derived. Throws
 * ConfigError listing every problem; pure, so it runs before any resource exists.
 */
export function parseSettings(raw: Record<string, unknown>, ctx: LoadContext): Settings {
  const project = ctx.project ?? PROJECT;
  const r = validated(raw, ctx.stack);
  const problems: string[] = [];
  const { scope, loaded, ecs, ...resolved } = resolveStack(raw, r, { ...ctx, project }, problems);
  // Two steps that walk the same graph (the start order) report its cycle alike: once.
  if (problems.length > 0) throw new ConfigError(ctx.stack, [...new Set(problems)]);
  const { environment } = scope;
  return {
    project,
    layout: {
      kind: loaded.catalogue.layout,
      origin: loaded.catalogue.origin,
      checkout: loaded.source.checkout,
      release: { source: r.release?.source, compose: loaded.source.compose },
    },
    stack: ctx.stack,
    environment,
    storageMode: scope.storageMode,
    dataDir: scope.dataDir,
    bindAddress: r.bindAddress ?? DEFAULTS.bindAddress,
    stopGraceSeconds: r.stopGraceSeconds ?? DEFAULTS.stopGraceSeconds,
    initImage: r.initImage ?? DEFAULTS.initImage,
    networkName: networkName(project, ctx.stack),
    protection: protectionPolicy(environment, r.protect),
    postgres: resolved.postgres,
    secrets: resolved.secrets,
    services: resolved.services,
    dataSets: [...resolved.dataSets].sort((a, b) => (a.key < b.key ? -1 : 1)),
    target: targetOf(r.aws, ecs?.plan),
    aws: r.aws,
    acknowledgeUnmigratedData: r.acknowledgeUnmigratedData ?? false,
    adoptComposeVolumes: r.adoptComposeVolumes ?? false,
    images: resolved.images,
  };
}
