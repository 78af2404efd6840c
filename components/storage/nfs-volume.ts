import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ProtectionPolicy } from "../protection";
import type { EfsDataSet } from "../config/data-sets";
import { hostDirScript, ONE_SHOT } from "./host-dir";
import { DataMount } from "./types";
import { namedVolume } from "./volume";

/**
 * AWS's recommended NFS client options for EFS. `hard` makes a client wait through a
 * server failover instead of returning I/O errors to the database; `noresvport` lets
 * it reconnect on a new port after a network interruption.
 */
export const EFS_MOUNT_OPTIONS =
  "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport";

// Kept in naming.ts, which settings (and so every data tool) can load without the Pulumi SDK.
export { efsDataSetPath } from "../config/naming";

/** Where one data set's files live on EFS. */
export type EfsLocation = {
  /**
   * The file system's DNS name: Docker resolves it at every mount (to the mount target
   * in the host's zone), so a volume created once keeps working after the mount targets
   * are re-created with new IPs, which a fixed IP would not.
   */
  readonly address: pulumi.Input<string>;
  /** The data set's directory on the file system (efsDataSetPath), or `/` for its root. */
  readonly path: `/${string}`;
};

/** The EFS location of one data set: `efsLocation(efs.dnsName, efsDataSetPath(stack, key))`. */
export function efsLocation(address: pulumi.Input<string>, path: `/${string}`): EfsLocation {
  return { address, path };
}

/**
 * The name the producers of an EFS location knew it by, when it was the encoded driver
 * options; the same function as efsLocation.
 * @deprecated use efsLocation
 */
export const nfsDriverOpts = efsLocation;

/**
 * Options of Docker's `local` driver that mount an EFS location over NFS. The local
 * driver cannot do EFS TLS (that needs efs-utils and a bind mount).
 */
export function efsDriverOpts(location: EfsLocation): Record<string, pulumi.Input<string>> {
  return {
    type: "nfs",
    device: `:${location.path}`,
    o: pulumi.interpolate`addr=${location.address},${EFS_MOUNT_OPTIONS}`,
  };
}

export interface EfsVolumeArgs {
  readonly dataSet: EfsDataSet;
  readonly protection: ProtectionPolicy;
  /** Where the data set's files live on EFS. */
  readonly location: EfsLocation;
  /** Image id of the small image that creates the data set's directory. */
  readonly initImageId: pulumi.Input<string>;
  /** Stack-scoped name of the one-shot initialiser container. */
  readonly containerName: string;
}

/**
 * An EFS-backed named volume. NFS refuses to mount a subdirectory that does not
 * exist, and EFS access points (which would create it) need efs-utils' TLS mount,
 * which Docker's local driver cannot do. So a one-shot initialiser mounts the file
 * system root over NFS and creates the data set's directory with the owner the
 * service runs as (leaving an existing one alone); the service's volume then mounts
 * only that directory, so one data set never sees another's files.
 */
export function efsVolume(
  name: string,
  args: EfsVolumeArgs,
  opts: pulumi.CustomResourceOptions,
): DataMount {
  const { dataSet, location } = args;
  const script = hostDirScript(`/efs${location.path}`, dataSet.uid, dataSet.gid);
  const init = new docker.Container(
    `${name}-efs-init`,
    {
      name: args.containerName,
      image: args.initImageId,
      command: ["sh", "-c", script],
      // An anonymous volume: removing it never touches the files on the NFS server.
      mounts: [
        {
          type: "volume",
          target: "/efs",
          volumeOptions: {
            driverName: "local",
            driverOptions: efsDriverOpts({ ...location, path: "/" }),
          },
        },
      ],
      // dockerd mounts the volume from the host's network; the container needs none.
      ...ONE_SHOT,
    },
    { ...opts, deleteBeforeReplace: true },
  );
  const volume = namedVolume(
    name,
    { dataSet, protection: args.protection, driverOpts: efsDriverOpts(location) },
    opts,
  );
  return { ...volume, readyResources: [init, ...volume.readyResources] };
}
