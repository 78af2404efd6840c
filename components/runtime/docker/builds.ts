import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ServiceImage } from "../../image/service-image";
import { physicalName } from "../../config/naming";
import { Settings } from "../../config/settings";
import { ImageRepository } from "../shared";

/** What a container runs when it is not its configured image: a build's reference. */
export interface BuiltImage {
  readonly name: pulumi.Input<string>;
  readonly pullTriggers?: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * The images a Docker engine builds (one ServiceImage per service that builds its own
 * image; services sharing a build use the first one's), where each is pushed, and the
 * provider pushed images are pulled with.
 */
export class EngineImages {
  public readonly builds: Record<string, ServiceImage> = {};
  /** Pulls pushed images by digest; undefined when nothing is pushed to a registry. */
  public readonly provider?: docker.Provider;

  constructor(
    name: string,
    s: Settings,
    parent: pulumi.Resource,
    repositories?: Readonly<Record<string, ImageRepository>>,
    provider?: docker.Provider,
  ) {
    for (const src of s.images.services) {
      if (src.from !== "build" || src.builtBy !== src.service) continue;
      const repo =
        repositories?.[src.service] ??
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
        { parent },
      );
    }
    // Pushed images are pulled by digest from the registry, logged in with the deployer's
    // Docker credentials; a provider of their own keeps the containers' one unchanged.
    this.provider =
      provider ??
      (s.images.registry !== undefined
        ? new docker.Provider(
            `${name}-images`,
            { registryAuth: [{ address: s.images.registry.split("/")[0] }] },
            { parent },
          )
        : undefined);
    this.builtBy = (svcName) => {
      const src = s.images.services.find((x) => x.service === svcName);
      return src?.from === "build" ? src.builtBy : svcName;
    };
  }

  /** The service whose build a service runs (itself unless it shares another's). */
  public readonly builtBy: (service: string) => string;

  /** The built image a service runs, or undefined for a configured one. */
  imageOf(service: string): BuiltImage | undefined {
    const b = this.builds[this.builtBy(service)];
    return b ? { name: b.ref, pullTriggers: b.triggers } : undefined;
  }

  /** What a service runs: the pushed reference, else the local image id, else the configured name. */
  ranBy(service: string, image: docker.RemoteImage): pulumi.Input<string> {
    const b = this.builds[this.builtBy(service)];
    return b ? (b.pushed ? b.ref : image.imageId) : image.name;
  }
}
