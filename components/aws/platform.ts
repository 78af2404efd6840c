import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { Target } from "../config/settings";
import type { EbsDataDisk } from "./data-disk";
import type { DataKey } from "./kms-key";
import type { AwsNetwork } from "./network";

/*
 * What passes between the shared AWS pieces (environment.ts) and the runtime on top
 * (components/runtime/docker-host/ or ecs/): types only, so a runtime can name what it
 * uses without loading the component that makes it.
 */

/** The two runtimes that run on AWS. */
export type AwsTarget = Exclude<Target, { kind: "local" }>;

/** What a runtime may build on before the data services exist (the Docker host does). */
export interface AwsFoundation {
  /** The environment itself (the parent the shared pieces keep). */
  readonly environment: pulumi.Resource;
  readonly provider: aws.Provider;
  readonly network: AwsNetwork;
  readonly key: DataKey;
  /** The host's data disk, when the stack keeps one. */
  readonly dataDisk?: EbsDataDisk;
}

/** Who uses RDS and EFS (and pulls the stack's images). */
export interface DataClient {
  /** The security group RDS and EFS admit. */
  readonly securityGroupId: pulumi.Input<string>;
  /** The role granted pull access to the image repositories. @default none */
  readonly pullRoleName?: pulumi.Input<string>;
}

/** The shared part of the `aws` stack output (the runtime adds its own fields). */
export interface AwsEnvironmentOutputs {
  readonly region: string;
  readonly runtime: AwsTarget["kind"];
  readonly rdsAddress: string;
  readonly rdsIdentifier: string;
  readonly rdsFinalSnapshotIdentifier: string;
  readonly kmsKeyArn: string;
  /** The host's data disk: docker-host runtime, or ECS with keepHostDataDisk. */
  readonly ebsVolumeId: string | undefined;
  readonly efsFileSystemId: string | undefined;
  readonly dataMountPath: string;
  /** Service → ECR repository URL (a dev stack's panopticon:registry may push here). */
  readonly imageRepositories: Record<string, string> | undefined;
}

/**
 * What a runtime uses of the shared pieces once they all exist (the ECS runtime does):
 * values, not the components that made them. The stack's AWS provider is not among
 * them: the caller hands it to the runtime as its provider.
 */
export interface AwsPlatform {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets, in different availability zones. */
  readonly privateSubnetIds: pulumi.Input<string>[];
  /** The data key's ARN (RDS, EFS and the secrets are encrypted with it). */
  readonly dataKeyArn: pulumi.Input<string>;
  /** RDS Postgres: its address and master password (secret). */
  readonly database: {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly password: pulumi.Input<string>;
  };
  /** The EFS file system, when a data set uses it. */
  readonly fileSystem?: { readonly id: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
  /** The group RDS and EFS admit, when the runtime brought no client of its own. */
  readonly dataClientSecurityGroupId?: pulumi.Input<string>;
  /** The `aws` stack output. */
  readonly outputs: pulumi.Output<AwsEnvironmentOutputs>;
}
