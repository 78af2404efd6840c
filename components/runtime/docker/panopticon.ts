import * as docker from "@pulumi/docker";
import { STORES_LABEL, storesLabel } from "../../stores";
import * as pulumi from "@pulumi/pulumi";
import { DataVolume } from "../../data-volume";
import { kebab, TYPES } from "../../config/naming";
import { postgresPassword } from "../../postgres-password";
import { protectionSummary } from "../../protection";
import { ServiceContainer } from "../../service-container";
import { DataSetSettings, ServiceSettings, Settings } from "../../config/settings";
import type { EfsLocation } from "../../storage/nfs-volume";
import { ServiceImage } from "../../image/service-image";
import { DataVolumeOutput, ExternalDatabase, ImageRepository, postgresUrl } from "../shared";
import { EngineImages } from "./builds";
import { LABELS } from "../../contract";

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
  /** The EFS location of each efs-backed data set. @default none (no efs data sets) */
  readonly nfsDriverOpts?: (dataSet: DataSetSettings) => EfsLocation;
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

/** Where the apps reach the database, and where the deployer's host reaches it. */
interface DatabaseAddress {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly hostSide: { readonly host: pulumi.Input<string>; readonly port: pulumi.Input<number> };
}

/**
 * The Panopticon services on one Docker engine: the network, one DataVolume per
 * data set, the postgres container (unless an external database is given) and the
 * app services, which start after Postgres is healthy. Both Docker runtimes use it:
 * the local engine (components/runtime/local/) and the EC2 Docker host
 * (components/runtime/docker-host/).
 */
export class Panopticon extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  public readonly dataVolumes: Record<string, DataVolume> = {};
  public readonly services: Record<string, ServiceContainer> = {};
  public readonly builds: Record<string, ServiceImage>;
  /**
   * What each service runs: `repo@sha256:...` for pushed builds and digest-pinned
   * images, the engine-local image id (`sha256:...`) for unpushed builds, else the
   * configured reference. Promotion accepts only the first kind.
   */
  public readonly images: pulumi.Output<Record<string, string>>;
  public readonly endpoints: pulumi.Output<Record<string, string>>;
  public readonly volumes: Record<string, DataVolumeOutput> = {};
  /** `postgresql://` URL reachable from the host running `pulumi up`; secret. */
  public readonly connectionString: pulumi.Output<string>;
  public readonly protectionSummary: string;

  private readonly settings: Settings;
  private readonly password: pulumi.Output<string>;
  private readonly engineImages: EngineImages;

  constructor(name: string, args: PanopticonArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.Panopticon, name, {}, opts);
    const s = (this.settings = args.settings);
    this.password = postgresPassword(
      `${name}-postgres-password`,
      args.externalDatabase?.password ?? args.postgresPassword,
      this,
    );
    this.network = new docker.Network(
      `${name}-network`,
      { name: s.networkName, driver: "bridge" },
      { parent: this, deleteBeforeReplace: true },
    );
    this.createDataVolumes(name, args.nfsDriverOpts);
    this.engineImages = new EngineImages(name, s, this, args.imageRepositories, args.imageProvider);
    this.builds = this.engineImages.builds;

    const db = args.externalDatabase
      ? {
          host: args.externalDatabase.host,
          port: args.externalDatabase.port,
          hostSide: { host: args.externalDatabase.host, port: args.externalDatabase.port },
        }
      : this.createPostgres(name);
    this.createApps(name, db, args.secrets ?? {});

    this.endpoints = pulumi
      .all(Object.entries(this.services).map(([n, c]) => c.endpoint.apply((e) => [n, e] as const)))
      .apply((pairs) =>
        Object.fromEntries(pairs.filter((p): p is readonly [string, string] => p[1] !== undefined)),
      );
    this.images = pulumi.all(
      Object.fromEntries(
        Object.entries(this.services).map(([n, c]) => [n, this.engineImages.ranBy(n, c.image)]),
      ),
    ) as pulumi.Output<Record<string, string>>;
    this.connectionString = pulumi.secret(this.url(db.hostSide.host, db.hostSide.port));
    this.protectionSummary = protectionSummary(s.protection, s.environment);
    this.registerOutputs({
      endpoints: this.endpoints,
      volumes: this.volumes,
      images: this.images,
      connectionString: this.connectionString,
      protectionSummary: this.protectionSummary,
    });
  }

  private url(host: pulumi.Input<string>, port: pulumi.Input<number>): pulumi.Output<string> {
    const pg = this.settings.postgres;
    return postgresUrl({
      user: pg.user,
      password: this.password,
      host,
      port,
      database: pg.database,
    });
  }

  /** One DataVolume per data set (the init image prepares bind, ebs and efs directories). */
  private createDataVolumes(name: string, nfs: PanopticonArgs["nfsDriverOpts"]): void {
    const s = this.settings;
    const initImage = s.dataSets.some((d) => d.backend !== "volume")
      ? new docker.RemoteImage(
          `${name}-init-image`,
          { name: s.initImage, keepLocally: true },
          { parent: this },
        )
      : undefined;
    for (const ds of s.dataSets) {
      const dv = new DataVolume(
        `${name}-${kebab(ds.key)}`,
        {
          dataSet: ds,
          protection: s.protection,
          project: s.project,
          stack: s.stack,
          initImageId: initImage?.imageId,
          efs: ds.backend === "efs" ? nfs?.(ds) : undefined,
        },
        { parent: this },
      );
      this.dataVolumes[ds.key] = dv;
      this.volumes[ds.key] = { backend: ds.backend, source: dv.source };
    }
  }

  /** What every container of one service shares, whatever its role. */
  private containerArgs(svc: ServiceSettings) {
    const s = this.settings;
    const ds = s.dataSets.find((d) => d.service === svc.name);
    return {
      networkName: this.network.name,
      bindAddress: s.bindAddress,
      stopGraceSeconds: s.stopGraceSeconds,
      service: svc,
      image: this.engineImages.imageOf(svc.name),
      imageProvider: this.engineImages.provider,
      mount: ds ? this.dataVolumes[ds.key].mount : undefined,
    };
  }

  /** The postgres container, for stacks without an external database. */
  private createPostgres(name: string): DatabaseAddress {
    const s = this.settings;
    const pg = s.services.find((svc) => svc.kind === "postgres");
    if (pg === undefined) throw new Error("no postgres service and no external database");
    this.services[pg.name] = new ServiceContainer(
      `${name}-${pg.name}`,
      {
        ...this.containerArgs(pg),
        extraEnv: {
          POSTGRES_DB: s.postgres.database,
          POSTGRES_USER: s.postgres.user,
          POSTGRES_PASSWORD: this.password,
        },
        // What the guard and the data tools compare against PG_VERSION.
        labels:
          s.postgres.major === undefined
            ? {}
            : { [LABELS.postgresMajor]: String(s.postgres.major) },
      },
      { parent: this, dependsOn: [this.network] },
    );
    return {
      host: pg.name,
      port: pg.port,
      hostSide: { host: s.bindAddress, port: pg.hostPort === false ? pg.port : pg.hostPort },
    };
  }

  /**
   * The app containers, in compose's depends_on order: each starts after those it
   * depends on exist (Postgres after it is healthy). Settings has refused cycles and
   * unknown names.
   */
  private createApps(
    name: string,
    db: DatabaseAddress,
    secrets: Readonly<Record<string, pulumi.Input<string>>>,
  ): void {
    const s = this.settings;
    const connectionEnv = {
      POSTGRES_HOST: db.host,
      POSTGRES_PORT: pulumi.output(db.port).apply(String),
      POSTGRES_DB: s.postgres.database,
      POSTGRES_USER: s.postgres.user,
      POSTGRES_PASSWORD: this.password,
      DATABASE_URL: pulumi.secret(this.url(db.host, db.port)),
    };
    const secretEnv = (svc: ServiceSettings) =>
      Object.fromEntries(
        svc.secretEnv.map((v) => [v, pulumi.secret(pulumi.output(secrets[v] ?? ""))]),
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
          ...this.containerArgs(svc),
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
  }
}
