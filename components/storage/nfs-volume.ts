import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ProtectionPolicy } from "../protection";
import { DataSetSettings } from "../config/settings";
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

/**
 * Options of Docker's `local` driver that mount `path` of an EFS file system over
 * NFS. `address` is the file system's DNS name: Docker resolves it at every mount
 * (to the mount target in the host's zone), so a volume created once keeps working
 * after the mount targets are re-created with new IPs, which a fixed IP would not.
 * The local driver cannot do EFS TLS (that needs efs-utils and a bind mount).
 */
export function nfsDriverOpts(
  address: pulumi.Input<string>,
  path: string,
): Record<string, pulumi.Input<string>> {
  if (!path.startsWith("/")) throw new Error(`NFS path ${JSON.stringify(path)} must be absolute`);
  return {
    type: "nfs",
    device: `:${path}`,
    o: pulumi.interpolate`addr=${address},${EFS_MOUNT_OPTIONS}`,
  };
}

export interface EfsVolumeArgs {
  readonly dataSet: DataSetSettings;
  readonly protection: ProtectionPolicy;
  /** The data set's NFS options (`nfsDriverOpts(address, efsDataSetPath(...))`). */
  readonly driverOpts: pulumi.Input<Record<string, pulumi.Input<string>>>;
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
  const { dataSet } = args;
  const rootOpts = pulumi.output(args.driverOpts).apply((o) => {
    if (o.type !== "nfs" || !o.device?.startsWith(":/")) {
      throw new Error(
        `data set "${dataSet.key}": efs driver options need type=nfs and device=":/<path>", got ${JSON.stringify(o)}`,
      );
    }
    return { ...o, device: ":/" };
  });
  const subdir = pulumi.output(args.driverOpts).apply((o) => `/efs${o.device.slice(1)}`);
  const init = new docker.Container(
    `${name}-efs-init`,
    {
      name: args.containerName,
      image: args.initImageId,
      command: subdir.apply((d) => ["sh", "-c", hostDirScript(d, dataSet.uid, dataSet.gid)]),
      // An anonymous volume: removing it never touches the files on the NFS server.
      mounts: [
        {
          type: "volume",
          target: "/efs",
          volumeOptions: { driverName: "local", driverOptions: rootOpts },
        },
      ],
      // dockerd mounts the volume from the host's network; the container needs none.
      ...ONE_SHOT,
    },
    { ...opts, deleteBeforeReplace: true },
  );
  const volume = namedVolume(
    name,
    { dataSet, protection: args.protection, driverOpts: args.driverOpts },
    opts,
  );
  return { ...volume, readyResources: [init, ...volume.readyResources] };
}
