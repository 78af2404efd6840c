import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { architectureOf, AwsSettings, partitionOf } from "../../config/aws";
import { TYPES } from "../../config/naming";
import { Settings, Target } from "../../config/settings";
import { efsDataSetPath, nfsDriverOpts } from "../../storage/nfs-volume";
import { AwsEnvironment } from "../../aws/environment";
import type { AwsEnvironmentOutputs, AwsFoundation } from "../../aws/platform";
import { Panopticon } from "../docker/panopticon";
import { DataVolumeOutput, RuntimeOutputs } from "../shared";
import { DockerHost } from "./host";

export interface DockerHostRuntimeArgs {
  /** Validated settings of an `aws.runtime: docker-host` stack. */
  readonly settings: Settings;
  /** `settings.target`, narrowed to this runtime. */
  readonly target: Extract<Target, { kind: "docker-host" }>;
  /** The configured `postgresPassword` secret. @default a generated one */
  readonly postgresPassword?: pulumi.Input<string>;
  /** Secret variables by name (API_KEY, ...), each a Pulumi secret. */
  readonly secrets: Readonly<Record<string, pulumi.Input<string>>>;
}

/** The `aws` stack output of a docker-host stack. */
export interface DockerHostOutputs extends AwsEnvironmentOutputs {
  readonly dockerHostInstanceId: string;
  readonly dockerHost: string;
}

/**
 * Panopticon on one EC2 instance running Docker. It owns the instance (DockerHost)
 * and the Docker providers pointed at it, and wires the rest: the shared AWS pieces
 * (AwsEnvironment: RDS, EFS, the EBS data disk the host mounts) and the same
 * Panopticon containers as the local runtime. Those two are registered beside this
 * component, not under it, where they were before it existed: a parent is part of a
 * URN, and the volumes, the database and the disk must keep theirs.
 */
export class DockerHostRuntime extends pulumi.ComponentResource implements RuntimeOutputs {
  public readonly environment: AwsEnvironment;
  public readonly host: DockerHost;
  /** The provider the containers and volumes are created with. */
  public readonly dockerProvider: docker.Provider;
  /** The provider images are pulled with (logs in to the stack's ECR registry). */
  public readonly imageProvider?: docker.Provider;
  public readonly app: Panopticon;
  public readonly endpoints: pulumi.Output<Record<string, string>>;
  public readonly volumes: Record<string, DataVolumeOutput>;
  public readonly images: pulumi.Output<Record<string, string>>;
  public readonly connectionString: pulumi.Output<string>;
  public readonly protectionSummary: string;
  /** Instance id (for SSM), RDS, KMS, EBS and EFS ids (for re-adoption). */
  public readonly outputs: pulumi.Output<DockerHostOutputs>;

  constructor(name: string, args: DockerHostRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.DockerHostRuntime, name, {}, opts);
    const s = args.settings;
    const a = args.target.aws;
    const made: { host?: DockerHost } = {};
    this.environment = new AwsEnvironment(
      `${name}-aws`,
      {
        settings: s,
        target: args.target,
        postgresPassword: args.postgresPassword,
        dataClient: (f) => {
          const host = (made.host = this.createHost(name, s, a, f));
          return { securityGroupId: host.securityGroup.id, pullRoleName: host.role.name };
        },
      },
      { parent: opts?.parent },
    );
    if (made.host === undefined) throw new Error("the Docker host needs its data disk");
    const host = (this.host = made.host);
    const env = this.environment;
    // A stable host name (aws.dockerHost, e.g. an ~/.ssh/config alias that goes through
    // SSM) keeps the provider's configuration fixed when the instance changes.
    const address = a.dockerHost ?? pulumi.interpolate`ssh://ec2-user@${host.privateIp}`;
    // Nothing may be created on the host before it exists with its data disk attached.
    const onHost = {
      parent: this,
      dependsOn: [host.instance, host.attachment],
      aliases: [{ parent: env.urn }],
    };
    this.dockerProvider = new docker.Provider(`${name}-aws-docker`, { host: address }, onHost);
    // Images are pulled through a provider of their own that logs in to the stack's ECR
    // registry with the deployer's docker credentials (registryAuth names only the
    // address). Its configuration can change without touching the containers' and
    // volumes' provider: at worst the stateless RemoteImages are read again.
    const images = env.images;
    this.imageProvider =
      images &&
      new docker.Provider(
        `${name}-aws-docker-images`,
        { host: address, registryAuth: [{ address: images.registryAddress }] },
        onHost,
      );
    const efs = env.efs;
    this.app = new Panopticon(
      name,
      {
        settings: s,
        secrets: args.secrets,
        externalDatabase: {
          host: env.rds.address,
          port: env.rds.port,
          password: env.postgresPassword,
        },
        nfsDriverOpts: (ds) => {
          if (efs === undefined)
            throw new Error(`data set "${ds.key}" uses efs but no file system exists`);
          return nfsDriverOpts(efs.dnsName, efsDataSetPath(s.stack, ds.key));
        },
        imageRepositories:
          images &&
          Object.fromEntries(
            Object.entries(images.repositories).map(([svc, r]) => [svc, { url: r.repositoryUrl }]),
          ),
        imageProvider: this.imageProvider,
      },
      { parent: opts?.parent, providers: [this.dockerProvider] },
    );
    this.endpoints = this.app.endpoints;
    this.volumes = this.app.volumes;
    this.images = this.app.images;
    this.connectionString = this.app.connectionString;
    this.protectionSummary = this.app.protectionSummary;
    this.outputs = pulumi
      .all([env.outputs, host.instanceId, address])
      .apply(([o, id, dockerHost]) => ({ ...o, dockerHostInstanceId: id, dockerHost }));
    this.registerOutputs({ outputs: this.outputs, endpoints: this.endpoints });
  }

  /** The EC2 instance, in the network's host subnet, mounting the stack's data disk. */
  private createHost(name: string, s: Settings, a: AwsSettings, f: AwsFoundation): DockerHost {
    if (f.dataDisk === undefined) throw new Error("the Docker host needs its data disk");
    return new DockerHost(
      `${name}-aws-host`,
      {
        stack: s.stack,
        partition: partitionOf(a.region),
        vpcId: f.network.vpcId,
        subnetId: f.network.hostSubnetId,
        instanceType: a.instanceType,
        architecture: architectureOf(a.instanceType),
        amiId: a.amiId,
        adminCidrs: a.adminCidrs,
        sshKeyName: a.sshKeyName,
        dataVolumeId: f.dataDisk.volumeId,
        dataMountPath: a.dataMountPath,
        kmsKeyArn: f.key.arn,
      },
      // It was the environment's child before this component existed.
      { parent: this, providers: [f.provider], aliases: [{ parent: f.environment.urn }] },
    );
  }
}
