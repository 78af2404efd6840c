import * as pulumi from "@pulumi/pulumi";

/** How a container mounts one data set; what every storage backend produces. */
export interface DataMount {
  /** Docker mount type: a named volume or a host directory. */
  readonly type: "volume" | "bind";
  /** Volume name or absolute host path. */
  readonly source: pulumi.Output<string>;
  /** Resources the container must wait for (volume, directory initialiser). */
  readonly readyResources: pulumi.Resource[];
}
