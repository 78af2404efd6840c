import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { EfsDataSet, VolumeDataSet } from "../config/data-sets";
import { ProtectionPolicy, statefulOptions } from "../protection";
import { DataMount } from "./types";

/**
 * Every docker.Volume argument forces a replacement, and Docker reports labels and
 * options of adopted (compose-era) volumes that differ from ours. Ignoring them keeps
 * a routine refresh from ever planning a replace of a data volume; the name is the
 * identity and never changes.
 */
export const VOLUME_IGNORE_CHANGES = ["labels", "driverOpts"];

export interface NamedVolumeArgs {
  /** A data set of a volume backend: it carries the volume's name. */
  readonly dataSet: VolumeDataSet | EfsDataSet;
  readonly protection: ProtectionPolicy;
  /** Docker volume driver; `local` for plain volumes and NFS (EFS) volumes. @default "local" */
  readonly driver?: string;
  /** Driver options, e.g. NFS mount options for EFS. @default none */
  readonly driverOpts?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  readonly labels?: Record<string, string>;
}

/**
 * A named Docker volume that outlives `pulumi destroy` (retainOnDelete). Creating
 * it again with the same name adopts the existing volume and its data (Docker
 * returns the existing volume for a same-driver create).
 */
export function namedVolume(
  name: string,
  args: NamedVolumeArgs,
  opts: pulumi.CustomResourceOptions,
): DataMount {
  const volume = new docker.Volume(
    `${name}-volume`,
    {
      name: args.dataSet.volumeName,
      driver: args.driver ?? "local",
      driverOpts: args.driverOpts,
      labels: Object.entries(args.labels ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([label, value]) => ({ label, value })),
    },
    {
      ...opts,
      ...statefulOptions(args.protection),
      ignoreChanges: VOLUME_IGNORE_CHANGES,
    },
  );
  return { type: "volume", source: volume.name, readyResources: [volume] };
}
