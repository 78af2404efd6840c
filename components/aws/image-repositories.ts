import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";

export interface ImageRepositoriesArgs {
  readonly stack: string;
  /** The services compose builds; one repository each. */
  readonly services: readonly string[];
  readonly protection: ProtectionPolicy;
  /** The stack's data key: repositories are encrypted with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Images kept per repository; older ones expire. */
  readonly releasesKept: number;
  /** The Docker host's role: it may pull from these repositories, nothing else. @default no grant */
  readonly pullRoleName?: pulumi.Input<string>;
}

/** Read-only ECR actions: enough to pull, never to push or delete. */
export const ECR_PULL_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:BatchGetImage",
  "ecr:GetDownloadUrlForLayer",
] as const;

/** Keep the newest `count` images of a repository, tagged or not (builds are pushed by digest). */
export function lifecyclePolicy(count: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `keep the last ${count} releases`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: count },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * One ECR repository per built service. A promoted digest must stay pullable, so
 * the repositories are protected and retained like the data, tags are immutable,
 * every push is scanned and the stack's KMS key encrypts them. The Docker host's
 * role gets pull-only access to exactly these repositories.
 */
export class ImageRepositories extends pulumi.ComponentResource {
  public readonly repositories: Record<string, aws.ecr.Repository>;
  /** Service → repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/panopticon/<stack>/<service>`). */
  public readonly repositoryUrls: pulumi.Output<Record<string, string>>;
  /**
   * The account's registry host (`<account>.dkr.ecr.<region>.amazonaws.com`). No token
   * is kept here: a 12-hour ECR token in an input would change every run. Pushing and
   * pulling use the deployer's `docker login` (docs/images.md).
   */
  public readonly registryAddress: pulumi.Output<string>;

  constructor(name: string, args: ImageRepositoriesArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.ImageRepositories, name, {}, opts);
    const child = { parent: this };
    this.repositories = {};
    for (const svc of args.services) {
      const repo = new aws.ecr.Repository(
        `${name}-${svc}`,
        {
          name: `${PROJECT}/${args.stack}/${svc}`,
          imageTagMutability: "IMMUTABLE",
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: args.kmsKeyArn }],
          // Never delete a repository that still holds images.
          forceDelete: false,
          tags: { Name: physicalName(PROJECT, args.stack, svc) },
        },
        { ...child, ...statefulOptions(args.protection) },
      );
      new aws.ecr.LifecyclePolicy(
        `${name}-${svc}-lifecycle`,
        { repository: repo.name, policy: lifecyclePolicy(args.releasesKept) },
        child,
      );
      this.repositories[svc] = repo;
    }

    const first = Object.values(this.repositories)[0];
    this.registryAddress = first.repositoryUrl.apply((u) => u.split("/")[0]);

    const arns = Object.values(this.repositories).map((r) => r.arn);
    if (args.pullRoleName !== undefined) {
      new aws.iam.RolePolicy(
        `${name}-pull`,
        {
          role: args.pullRoleName,
          policy: pulumi.all(arns).apply((resources) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                // The token call cannot be scoped to a repository.
                { Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
                { Effect: "Allow", Action: [...ECR_PULL_ACTIONS], Resource: resources },
              ],
            }),
          ),
        },
        child,
      );
    }

    this.repositoryUrls = pulumi.all(
      Object.fromEntries(Object.entries(this.repositories).map(([s, r]) => [s, r.repositoryUrl])),
    );
    this.registerOutputs({
      repositoryUrls: this.repositoryUrls,
      registryAddress: this.registryAddress,
    });
  }
}
