import * as docker from "@pulumi/docker";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { BindDataSet, EbsDataSet } from "../config/data-sets";
import { DataMount } from "./types";

export interface HostDirArgs {
  /** A data set of a host-directory backend: it carries the directory. */
  readonly dataSet: BindDataSet | EbsDataSet;
  /** Image id of the small image that prepares the directory (see `initImage`). */
  readonly initImageId: pulumi.Input<string>;
  /** Stack-scoped name of the one-shot initialiser container. */
  readonly containerName: string;
}

/**
 * A container that runs once to completion and is never restarted: the
 * provider attaches and waits for it to exit (attach + mustRun false), keeps its
 * log, and gives it no network (dockerd does the mounting).
 */
export const ONE_SHOT = {
  mustRun: false,
  attach: true,
  logs: true,
  restart: "no",
  networkMode: "none",
} as const;

/**
 * The shell run by the initialiser: create the data directory with the owner the
 * service's image runs as, unless it exists (an adopted directory keeps its owner
 * and content), and never leave it world-writable.
 */
export function hostDirScript(dir: string, uid: number, gid: number): string {
  const d = JSON.stringify(dir);
  return [
    "set -eu",
    `if [ ! -d ${d} ]; then mkdir -p ${d} && chown ${uid}:${gid} ${d} && chmod 0750 ${d}; fi`,
    `chmod o-w ${d}`,
  ].join("; ");
}

/**
 * A host directory (bind mode locally, the EBS mount on AWS). Docker would create a
 * missing bind source as root; a one-shot initialiser container on the same Docker
 * engine creates it first with the right owner. Pulumi never deletes the
 * directory: removing the initialiser leaves it and its data alone.
 */
export function hostDir(
  name: string,
  args: HostDirArgs,
  opts: pulumi.CustomResourceOptions,
): DataMount {
  const hostPath = args.dataSet.hostPath;
  const parent = path.posix.dirname(hostPath);
  const inside = `/host/${path.posix.basename(hostPath)}`;
  const init = new docker.Container(
    `${name}-init`,
    {
      name: args.containerName,
      image: args.initImageId,
      command: ["sh", "-c", hostDirScript(inside, args.dataSet.uid, args.dataSet.gid)],
      volumes: [{ hostPath: parent, containerPath: "/host" }],
      ...ONE_SHOT,
    },
    // The command is part of the container; a change in it re-runs the initialiser.
    { ...opts, deleteBeforeReplace: true },
  );
  return { type: "bind", source: pulumi.output(hostPath), readyResources: [init] };
}
