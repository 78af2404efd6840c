import * as docker from "@pulumi/docker";
import { STORES_LABEL, storesLabel } from "../stores";
import * as pulumi from "@pulumi/pulumi";
import { DataVolume } from "../data-volume";
import { ServiceImage } from "../image/service-image";
import { kebab, physicalName, TYPES } from "../config/naming";
import { postgresPassword } from "../postgres-password";
import { protectionSummary } from "../protection";
import { ServiceContainer } from "../service-container";
import { DataSetSettings, ServiceSettings, Settings } from "../config/settings";

export interface ExternalDatabase {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  /** The database's master password (secret). */
  readonly password: pulumi.Input<string>;
}

export interface PanopticonArgs {
  /** The validated stack settings (components/config/settings.ts). */
  readonly settings: Settings;
  /**
   * The Postgres password (a configured secret); wrapped as a Pulumi secret whatever
   * it arrives as. @default a generated one (random.RandomPassword), kept in stack state
   */
  readonly postgresPassword?: pulumi.Input<string>;
  /**
   * Secret variables by name (API_KEY, OPENAI_API_KEY, ...), each a Pulumi secret; a
   * service gets exactly the ones its catalogue entry declares, empty when absent. @default {}
   */
  readonly secrets?: Readonly<Record<string, pulumi.Input<string>>>;
  /** A managed database (RDS) instead of the postgres container; brings its own password. @default the container */
  readonly externalDatabase?: ExternalDatabase;
  /** NFS driver options per efs-backed data set. @default none (no efs data sets) */
  readonly nfsDriverOpts?: (
    dataSet: DataSetSettings,
  ) => pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The repository each built service is pushed to. @default `<registry>/<service>`
   * when panopticon:registry is set, else none: the build stays on the local engine
   */
  readonly imageRepositories?: Readonly<Record<string, ImageRepository>>;
  /**
   * The Docker provider images are pulled with (one that can log in to the stack's
   * registry); containers and volumes keep the component's provider. @default that one
   */
  readonly imageProvider?: docker.Provider;
}

/** Where one built service image is pushed (an ECR repository on AWS). */
export interface ImageRepository {
  /** `host/path`, no tag. */
  readonly url: pulumi.Input<string>;
}

export interface DataVolumeOutput {
  readonly backend: string;
  readonly source: pulumi.Output<string>;
}

/** The stores a service reads, as a label the guard compares across a change. */
function storesLabelOf(svc: ServiceSettings): Record<string, string> {
  const value = storesLabel({
    name: svc.name,
    env: svc.env,
    data: svc.dataSet ? { set: svc.dataSet.key, path: svc.dataSet.mountPath } : undefined,
    database: svc.database,
  });
  return value === "" ? {} : { [STORES_LABEL]: value };
}

/**
 * The Panopticon services on one Docker engine: the network, one DataVolume per
 * data set, the postgres container (unless an external database is given) and the
 * app services, which start after Postgres is healthy.
 */
export class Panopticon extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  public readonly dataVolumes: Record<string, DataVolume>;
  public readonly services: Record<string, ServiceContainer>;
  public readonly builds: Record<string, ServiceImage>;
  /**
   * What each service runs: `repo@sha256:...` for pushed builds and digest-pinned
   * images, the engine-local image id (`sha256:...`) for unpushed builds, else the
   * configured reference. Promotion accepts only the first kind.
   */
  public readonly images: pulumi.Output<Record<string, string>>;
  public readonly endpoints: pulumi.Output<Record<string, string>>;
  public readonly volumes: Record<string, DataVolumeOutput>;
  /** `postgresql://` URL reachable from the host running `pulumi up`; secret. */
  public readonly connectionString: pulumi.Output<string>;
  public readonly protectionSummary: string;

  constructor(name: string, args: PanopticonArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.Panopticon, name, {}, opts);
    const s = args.settings;
    const password = postgresPassword(
      `${name}-postgres-password`,
      args.externalDatabase?.password ?? args.postgresPassword,
      this,
    );

    this.network = new docker.Network(
      `${name}-network`,
      { name: s.networkName, driver: "bridge" },
      { parent: this, deleteBeforeReplace: true },
    );

    const needsInit = s.dataSets.some((d) => d.backend !== "volume");
    const initImage = needsInit
      ? new docker.RemoteImage(
          `${name}-init-image`,
          { name: s.initImage, keepLocally: true },
          { parent: this },
        )
      : undefined;

    this.dataVolumes = {};
    this.volumes = {};
    for (const ds of s.dataSets) {
      const dv = new DataVolume(
        `${name}-${kebab(ds.key)}`,
        {
          dataSet: ds,
          protection: s.protection,
          project: s.project,
          stack: s.stack,
          initImageId: initImage?.imageId,
          nfsDriverOpts: ds.backend === "efs" ? args.nfsDriverOpts?.(ds) : undefined,
        },
        { parent: this },
      );
      this.dataVolumes[ds.key] = dv;
      this.volumes[ds.key] = { backend: ds.backend, source: dv.source };
    }

    const containerDefaults = {
      networkName: this.network.name,
      bindAddress: s.bindAddress,
      stopGraceSeconds: s.stopGraceSeconds,
    };
    const mountOf = (svcName: string) => {
      const ds = s.dataSets.find((d) => d.service === svcName);
      return ds ? this.dataVolumes[ds.key].mount : undefined;
    };

    this.builds = {};
    for (const src of s.images.services) {
      if (src.from !== "build" || src.builtBy !== src.service) continue;
      const repo =
        args.imageRepositories?.[src.service] ??
        (s.images.registry !== undefined
          ? { url: `${s.images.registry}/${src.service}` }
          : undefined);
      this.builds[src.service] = new ServiceImage(
        `${name}-${src.service}-build`,
        {
          build: src.build,
          buildOnPreview: s.images.buildOnPreview,
          protection: s.protection,
          destination: repo
            ? { push: repo.url }
            : { localTag: `${physicalName(s.project, s.stack, src.service)}:built` },
        },
        { parent: this },
      );
    }
    // Pushed images are pulled by digest from the registry, logged in with the deployer's
    // Docker credentials; a provider of their own keeps the containers' one unchanged.
    const imageProvider =
      args.imageProvider ??
      (s.images.registry !== undefined
        ? new docker.Provider(
            `${name}-images`,
            { registryAuth: [{ address: s.images.registry.split("/")[0] }] },
            { parent: this },
          )
        : undefined);
    const builtBy = (svcName: string) => {
      const src = s.images.services.find((x) => x.service === svcName);
      return src?.from === "build" ? src.builtBy : svcName;
    };
    const imageOf = (svcName: string) => {
      const b = this.builds[builtBy(svcName)];
      return b ? { name: b.ref, pullTriggers: b.triggers } : undefined;
    };

    this.services = {};
    const pg = s.services.find((svc) => svc.kind === "postgres");
    let dbHost: pulumi.Input<string>;
    let dbPort: pulumi.Input<number>;
    let hostSideAddress: pulumi.Input<string>;
    let hostSidePort: pulumi.Input<number>;
    if (args.externalDatabase) {
      dbHost = args.externalDatabase.host;
      dbPort = args.externalDatabase.port;
      hostSideAddress = dbHost;
      hostSidePort = dbPort;
    } else {
      if (pg === undefined) throw new Error("no postgres service and no external database");
      this.services[pg.name] = new ServiceContainer(
        `${name}-${pg.name}`,
        {
          ...containerDefaults,
          service: pg,
          image: imageOf(pg.name),
          imageProvider,
          mount: mountOf(pg.name),
          extraEnv: {
            POSTGRES_DB: s.postgres.database,
            POSTGRES_USER: s.postgres.user,
            POSTGRES_PASSWORD: password,
          },
          // What the guard and the data tools compare against PG_VERSION.
          labels:
            s.postgres.major === undefined
              ? {}
              : { "com.panopticon.postgres-major": String(s.postgres.major) },
        },
        { parent: this, dependsOn: [this.network] },
      );
      dbHost = pg.name;
      dbPort = pg.port;
      hostSideAddress = s.bindAddress;
      hostSidePort = pg.hostPort === false ? pg.port : pg.hostPort;
    }

    const url = (host: pulumi.Input<string>, port: pulumi.Input<number>) =>
      pulumi.secret(
        pulumi.interpolate`postgresql://${s.postgres.user}:${password.apply(encodeURIComponent)}@${host}:${port}/${s.postgres.database}`,
      );
    const connectionEnv = {
      POSTGRES_HOST: dbHost,
      POSTGRES_PORT: pulumi.output(dbPort).apply(String),
      POSTGRES_DB: s.postgres.database,
      POSTGRES_USER: s.postgres.user,
      POSTGRES_PASSWORD: password,
      DATABASE_URL: url(dbHost, dbPort),
    };
    // compose's depends_on: each container starts after those it depends on exist
    // (Postgres after it is healthy). Settings has refused cycles and unknown names.
    const secretEnv = (svc: ServiceSettings) =>
      Object.fromEntries(
        svc.secretEnv.map((v) => [v, pulumi.secret(pulumi.output(args.secrets?.[v] ?? ""))]),
      );
    const create = (svc: ServiceSettings): ServiceContainer => {
      const existing = this.services[svc.name];
      if (existing) return existing;
      const after = svc.dependsOn
        .map((d) => s.services.find((o) => o.name === d))
        .filter((o): o is ServiceSettings => o !== undefined)
        .map((o) => create(o).container);
      const c = new ServiceContainer(
        `${name}-${svc.name}`,
        {
          ...containerDefaults,
          service: svc,
          image: imageOf(svc.name),
          imageProvider,
          mount: mountOf(svc.name),
          extraEnv: { ...(svc.database ? connectionEnv : {}), ...secretEnv(svc) },
          labels: storesLabelOf(svc),
          startAfter: after,
        },
        { parent: this, dependsOn: [this.network] },
      );
      this.services[svc.name] = c;
      return c;
    };
    for (const svc of s.services) create(svc);

    this.endpoints = pulumi
      .all(Object.entries(this.services).map(([n, c]) => c.endpoint.apply((e) => [n, e] as const)))
      .apply((pairs) =>
        Object.fromEntries(pairs.filter((p): p is readonly [string, string] => p[1] !== undefined)),
      );
    this.images = pulumi.all(
      Object.fromEntries(
        Object.entries(this.services).map(([n, c]) => {
          const b = this.builds[builtBy(n)];
          return [n, b ? (b.pushed ? b.ref : c.image.imageId) : c.image.name];
        }),
      ),
    ) as pulumi.Output<Record<string, string>>;
    this.connectionString = url(hostSideAddress, hostSidePort);
    this.protectionSummary = protectionSummary(s.protection, s.environment);
    this.registerOutputs({
      endpoints: this.endpoints,
      volumes: this.volumes,
      images: this.images,
      connectionString: this.connectionString,
      protectionSummary: this.protectionSummary,
    });
  }
}
