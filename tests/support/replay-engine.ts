import { RecordedResource } from "./harness";
import {
  BUILD_TYPE,
  buildImage,
  containerCreateArgs,
  contextHash,
  createAndStart,
  createNetworksAndVolumes,
  docker,
  remoteImageOf,
} from "./docker-cli";

/*
 * Repeated `pulumi up`s of recorded registrations on the real engine, with the
 * engine's diff: a build runs only when its inputs or its context hash changed
 * (docker-build's rule), an image name is read again after every build (the
 * RemoteImage's pull triggers), and a container is replaced only when its inputs
 * or the image id it runs changed. Each apply reports what it did, so tests can
 * show that an unchanged checkout builds and replaces nothing.
 */

export interface ApplyReport {
  /** Tags of the images built in this apply. */
  readonly built: string[];
  /** Tags whose image id changed in this apply. */
  readonly changedImages: string[];
  readonly createdContainers: string[];
  readonly replacedContainers: string[];
  readonly unchangedContainers: string[];
}

export class ReplayEngine {
  private readonly builds = new Map<string, { key: string; id: string }>();
  private readonly containers = new Map<string, string>();

  constructor(private readonly fallbackImage: (name: string) => string) {}

  apply(resources: readonly RecordedResource[]): ApplyReport {
    const report: ApplyReport = {
      built: [],
      changedImages: [],
      createdContainers: [],
      replacedContainers: [],
      unchangedContainers: [],
    };
    // Applied again and again: the network of an earlier apply is kept.
    createNetworksAndVolumes(resources, "keep");

    const ids = new Map<string, string>();
    for (const b of resources.filter((r) => r.type === BUILD_TYPE)) {
      const i = b.plainInputs;
      const tag = ((i.tags as string[] | undefined) ?? [])[0];
      const key = JSON.stringify(i) + contextHash(i);
      const before = this.builds.get(b.name);
      if (before?.key === key) {
        ids.set(tag, before.id);
        continue;
      }
      const id = buildImage(i);
      report.built.push(tag);
      if (before?.id !== id) report.changedImages.push(tag);
      this.builds.set(b.name, { key, id });
      ids.set(tag, id);
    }

    for (const c of resources.filter((r) => r.type === "docker:index/container:Container")) {
      const i = c.plainInputs;
      const name = String(i.name);
      const ref = remoteImageOf(resources, name);
      const image = (ref !== undefined ? ids.get(ref) : undefined) ?? this.fallbackImage(name);
      const key = JSON.stringify(containerCreateArgs(i, image));
      const before = this.containers.get(name);
      if (before === key) {
        report.unchangedContainers.push(name);
        continue;
      }
      if (before !== undefined) {
        docker(["rm", "--force", name]);
        report.replacedContainers.push(name);
      } else report.createdContainers.push(name);
      createAndStart(i, image);
      this.containers.set(name, key);
    }
    return report;
  }
}
