import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { TYPES } from "./config/naming";
import { ServiceSettings } from "./config/settings";
import { DataMount } from "./storage/types";
import { LABELS } from "./contract";

export interface ServiceContainerArgs {
  /** The resolved service: image, ports, env, stop signal, healthcheck. */
  readonly service: ServiceSettings;
  /**
   * The image to run when it is not the service's configured one: a build's
   * reference and the values that make the engine read it again (ServiceImage).
   * @default `service.image`, read once
   */
  readonly image?: {
    readonly name: pulumi.Input<string>;
    readonly pullTriggers?: pulumi.Input<pulumi.Input<string>[]>;
  };
  /** Provider the image is pulled with. @default the component's Docker provider */
  readonly imageProvider?: docker.Provider;
  /** Name of the Docker network the container joins. */
  readonly networkName: pulumi.Input<string>;
  /** The data set's mount, if the service has one. @default none */
  readonly mount?: DataMount;
  /** Extra environment (connection settings, API keys); may be secret. Merged and sorted by key. @default {} */
  readonly extraEnv?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Extra labels, e.g. the Postgres major of the data directory. @default {} */
  readonly labels?: Record<string, string>;
  /** Host address published ports bind to. @default "127.0.0.1" */
  readonly bindAddress?: string;
  /** Seconds the container gets to stop before it is killed (≥ 60). */
  readonly stopGraceSeconds: number;
  /**
   * Resources the container itself must start after (e.g. the healthy postgres
   * container). A component's own `dependsOn` does not reach its children, so
   * ordering that matters is passed down explicitly. @default []
   */
  readonly startAfter?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Changes to these are shown as updates by the provider but never applied to a
 * running container (PITFALLS.md); replacing is the only way they take effect.
 */
export const CONTAINER_REPLACE_ON_CHANGES = ["healthcheck", "tmpfs"];

/** Sorted `KEY=value` lines: a stable order keeps every run free of env diffs. */
export function envLines(env: Record<string, string>): string[] {
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/**
 * One Panopticon service as a container that behaves like a well-run database:
 * graceful stop, restart unless stopped, healthcheck, bounded logs, an image
 * pinned by id and kept on destroy, and ports on loopback unless configured.
 */
export class ServiceContainer extends pulumi.ComponentResource {
  public readonly container: docker.Container;
  public readonly image: docker.RemoteImage;
  /** Host-side endpoint, e.g. `127.0.0.1:8001`, or undefined when nothing is published. */
  public readonly endpoint: pulumi.Output<string | undefined>;
  /** Name other containers on the network use to reach this one. */
  public readonly hostname: string;

  constructor(name: string, args: ServiceContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.ServiceContainer, name, {}, opts);
    const svc = args.service;
    const bindAddress = args.bindAddress ?? "127.0.0.1";
    this.image = this.pullImage(name, args);
    this.hostname = svc.name;
    this.container = this.createContainer(name, args, bindAddress);
    this.endpoint = pulumi.output(
      svc.hostPort === false ? undefined : `${bindAddress}:${svc.hostPort}`,
    );
    this.registerOutputs({
      container: this.container,
      image: this.image,
      endpoint: this.endpoint,
      hostname: this.hostname,
    });
  }

  /**
   * keepLocally: destroying the stack must not delete images a restore may need. The
   * container runs the image id, never a name, so it is replaced only when the bytes
   * change (PITFALLS.md).
   */
  private pullImage(name: string, args: ServiceContainerArgs): docker.RemoteImage {
    const svc = args.service;
    const image = args.image ?? { name: svc.image };
    if (image.name === undefined) {
      throw new Error(`service "${svc.name}" has no image (settings must refuse this first)`);
    }
    return new docker.RemoteImage(
      `${name}-image`,
      { name: image.name, keepLocally: true, pullTriggers: args.image?.pullTriggers },
      { parent: this, provider: args.imageProvider },
    );
  }

  private createContainer(
    name: string,
    args: ServiceContainerArgs,
    bindAddress: string,
  ): docker.Container {
    const svc = args.service;
    const env = pulumi
      .all([pulumi.output(args.extraEnv ?? {})])
      .apply(([extra]) => envLines({ ...Object.fromEntries(svc.env), ...extra }));
    return new docker.Container(
      `${name}-container`,
      {
        name: svc.containerName,
        image: this.image.imageId,
        envs: env,
        command: svc.command ? [...svc.command] : undefined,
        restart: svc.restart,
        stopSignal: svc.stopSignal,
        stopTimeout: args.stopGraceSeconds,
        destroyGraceSeconds: args.stopGraceSeconds,
        healthcheck: {
          tests: [...svc.healthcheck.test],
          interval: `${svc.healthcheck.intervalSeconds}s`,
          timeout: `${svc.healthcheck.timeoutSeconds}s`,
          retries: svc.healthcheck.retries,
          startPeriod: `${svc.healthcheck.startPeriodSeconds}s`,
        },
        // compose's deploy.resources.limits; both update in place.
        cpus: String(svc.limits.cpus),
        memory: svc.limits.memoryMb,
        wait: svc.awaitHealthy,
        waitTimeout: svc.awaitHealthy ? 180 : undefined,
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "5" },
        ports:
          svc.hostPort === false
            ? []
            : [{ internal: svc.port, external: svc.hostPort, ip: bindAddress, protocol: "tcp" }],
        networksAdvanced: [{ name: args.networkName, aliases: [svc.name] }],
        mounts: args.mount
          ? [{ type: args.mount.type, source: args.mount.source, target: svc.dataSet!.mountPath }]
          : [],
        labels: containerLabels(svc, args.labels),
      },
      {
        parent: this,
        dependsOn: [...(args.mount?.readyResources ?? []), ...(args.startAfter ?? [])],
        // The name is fixed, so a replacement must remove the old container first;
        // data lives in the retained volume, never in the container.
        deleteBeforeReplace: true,
        replaceOnChanges: CONTAINER_REPLACE_ON_CHANGES,
      },
    );
  }
}

/** The labels the guard and the data tools find a container by (LABELS), sorted. */
function containerLabels(
  svc: ServiceSettings,
  extra: Record<string, string> = {},
): { label: string; value: string }[] {
  return Object.entries({
    [LABELS.service]: svc.name,
    ...(svc.dataSet ? { [LABELS.dataSet]: svc.dataSet.key } : {}),
    ...extra,
  })
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([label, value]) => ({ label, value }));
}
