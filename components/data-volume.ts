import * as pulumi from "@pulumi/pulumi";
import { kebab, physicalName, TYPES } from "./config/naming";
import { ProtectionPolicy } from "./protection";
import { DataSetSettings } from "./config/settings";
import { EfsLocation, efsVolume } from "./storage/nfs-volume";
import { hostDir } from "./storage/host-dir";
import { DataMount } from "./storage/types";
import { namedVolume } from "./storage/volume";

export interface DataVolumeArgs {
  /** The data set: backend, volume name or host path, owner. */
  readonly dataSet: DataSetSettings;
  /** The stack's protection policy; drives protect/retainOnDelete. */
  readonly protection: ProtectionPolicy;
  readonly project: string;
  readonly stack: string;
  /** Image id that prepares host directories (bind, ebs) and EFS directories (efs). @default none */
  readonly initImageId?: pulumi.Input<string>;
  /** Where the data set's files live on EFS (efs backend only). @default none */
  readonly efs?: EfsLocation;
}

/**
 * One data set's storage, whatever the backend: the swap between a named volume,
 * a host directory, an EFS-backed volume or a directory on the EBS disk happens
 * here and nowhere else.
 */
export class DataVolume extends pulumi.ComponentResource {
  public readonly mount: DataMount;
  /** Volume name or host path the service mounts. */
  public readonly source: pulumi.Output<string>;
  public readonly backend: DataSetSettings["backend"];

  constructor(name: string, args: DataVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.DataVolume, name, {}, opts);
    const ds = args.dataSet;
    const child = { parent: this };
    // The one-shot initialiser (efs, bind, ebs) gets a stack-scoped name per data set.
    const initName = physicalName(args.project, args.stack, kebab(ds.key), "init");
    switch (ds.backend) {
      case "volume":
        this.mount = namedVolume(name, { dataSet: ds, protection: args.protection }, child);
        break;
      case "efs":
        if (args.efs === undefined || args.initImageId === undefined) {
          throw new Error(
            `data set "${ds.key}": the efs backend needs its EFS location and an init image`,
          );
        }
        this.mount = efsVolume(
          name,
          {
            dataSet: ds,
            protection: args.protection,
            location: args.efs,
            initImageId: args.initImageId,
            containerName: initName,
          },
          child,
        );
        break;
      case "bind":
      case "ebs":
        if (args.initImageId === undefined) {
          throw new Error(`data set "${ds.key}": the ${ds.backend} backend needs an init image`);
        }
        this.mount = hostDir(
          name,
          {
            dataSet: ds,
            initImageId: args.initImageId,
            containerName: initName,
          },
          child,
        );
        break;
    }
    this.source = this.mount.source;
    this.backend = ds.backend;
    this.registerOutputs({ source: this.source, backend: this.backend, type: this.mount.type });
  }
}
