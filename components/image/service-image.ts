import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { TYPES } from "../config/naming";
import { ProtectionPolicy } from "../protection";
import { ImageBuild } from "../config/images";

export interface ServiceImageArgs {
  /** compose's build of the service: context, dockerfile, args (absolute paths). */
  readonly build: ImageBuild;
  /**
   * Where the image goes: a repository (`host/path/service`, no tag) it is pushed to
   * by digest with the deployer's `docker login` (no expiring token in the inputs, so
   * nothing changes between runs), or a local tag it is loaded under.
   */
  readonly destination: { readonly push: pulumi.Input<string> } | { readonly localTag: string };
  /** Build during `pulumi preview` too. @default false */
  readonly buildOnPreview?: boolean;
  /**
   * The stack's protection policy. Its retainOnDelete keeps a replaced or destroyed
   * build's image: docker-build deletes a pushed image from its registry on delete,
   * and prod may run that very digest (pulumi/pulumi-docker-build#606).
   */
  readonly protection: ProtectionPolicy;
}

/**
 * Fixed image timestamps (SOURCE_DATE_EPOCH, honoured by BuildKit): a rebuild of
 * unchanged inputs gives the same digest, so nothing downstream is replaced.
 */
export const REPRODUCIBLE_BUILD_ARGS = { SOURCE_DATE_EPOCH: "0" } as const;

/**
 * One service image built from a Panopticon checkout as compose builds it, with
 * the BuildKit build resource (@pulumi/docker-build). The resource hashes its
 * context: an unchanged checkout builds nothing. A pushed image is addressed by
 * `repository@digest` (pushed by digest, so immutable tags never collide); a local
 * build keeps a stack-scoped tag. `ref` is what a container pulls; `triggers`
 * change whenever the build ran.
 */
export class ServiceImage extends pulumi.ComponentResource {
  public readonly image: dockerBuild.Image;
  /** What a container pulls: `repo@sha256:...` when pushed, else the local tag. */
  public readonly ref: pulumi.Output<string>;
  /**
   * Re-read the image when either changes (a loaded build may report no digest).
   * Re-reading is cheap: a container is replaced only if the image id it reads differs.
   */
  public readonly triggers: pulumi.Output<string[]>;
  /** True when the image lives in a registry (pullable by other engines). */
  public readonly pushed: boolean;

  constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.ServiceImage, name, {}, opts);
    const b = args.build;
    const dest = args.destination;
    const common = {
      context: { location: b.context },
      dockerfile: { location: b.dockerfile },
      buildArgs: { ...b.args, ...REPRODUCIBLE_BUILD_ARGS },
      buildOnPreview: args.buildOnPreview ?? false,
    };
    if ("push" in dest) {
      this.pushed = true;
      this.image = new dockerBuild.Image(
        `${name}-image`,
        {
          ...common,
          push: false,
          exports: [{ registry: { names: [dest.push], pushByDigest: true } }],
        },
        { parent: this, retainOnDelete: args.protection.retainOnDelete },
      );
      this.ref = pulumi
        .all([dest.push, this.image.digest])
        .apply(([repo, digest]) => `${repo}@${digest}`);
    } else {
      this.pushed = false;
      this.image = new dockerBuild.Image(
        `${name}-image`,
        { ...common, push: false, load: true, tags: [dest.localTag] },
        { parent: this, retainOnDelete: args.protection.retainOnDelete },
      );
      // Derived from the build, so nothing reads the tag before the build made it.
      this.ref = this.image.contextHash.apply(() => dest.localTag);
    }
    this.triggers = pulumi
      .all([this.image.contextHash, this.image.digest])
      .apply(([hash, digest]) => [hash ?? "", digest ?? ""]);
    this.registerOutputs({ ref: this.ref, triggers: this.triggers });
  }
}
