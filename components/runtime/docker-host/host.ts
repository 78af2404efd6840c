import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { nameTag, assumeRolePolicy } from "../../aws/types";

export interface DockerHostArgs {
  readonly stack: string;
  /** AWS partition of the region (`aws`, `aws-cn`, `aws-us-gov`), for managed policy ARNs. */
  readonly partition: string;
  readonly vpcId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly instanceType: string;
  /** CPU architecture of the instance type (picks the AMI). */
  readonly architecture: "arm64" | "x86_64";
  /** Pin the AMI. @default the latest Amazon Linux 2023, looked up once (later releases are ignored) */
  readonly amiId?: string;
  /** SSH ingress ranges (never /0). @default none: SSM only */
  readonly adminCidrs: readonly string[];
  /** EC2 key pair for SSH. @default none */
  readonly sshKeyName?: string;
  /** The EBS data volume (in the host's zone) to attach and mount. */
  readonly dataVolumeId: pulumi.Input<string>;
  /** Where the data volume is mounted. */
  readonly dataMountPath: string;
  /** KMS key ARN for the root volume. */
  readonly kmsKeyArn: pulumi.Input<string>;
}

/** The NVMe serial a Nitro instance reports for an EBS volume: its id without the dash. */
export function nvmeDevicePath(volumeId: string): string {
  if (!/^vol-[0-9a-f]+$/.test(volumeId)) {
    throw new Error(`expected an EBS volume id like vol-0abc..., got ${JSON.stringify(volumeId)}`);
  }
  return `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}`;
}

/**
 * First-boot script of the Docker host. It holds no secret (user data is stored in
 * plain text): it installs Docker and the NFS client, then prepares the data disk.
 * Nitro instances name NVMe disks in attach order, so the disk is found by its
 * volume id; it is formatted only when blkid finds no filesystem on it (a retained,
 * re-attached disk keeps its data), mounted by filesystem UUID with `nofail` so a
 * missing disk never stops the boot, and Docker is made to require the mount, so
 * containers never write their data to the root disk by mistake.
 */
export function hostUserData(volumeId: string, mountPath: string): string {
  const dev = nvmeDevicePath(volumeId);
  return `#!/bin/bash
set -euo pipefail
dnf install -y docker nfs-utils xfsprogs
usermod -aG docker ec2-user

DEV=${dev}
# The attachment is made after the instance starts: wait for the disk (up to 10 minutes).
for _ in $(seq 1 120); do [ -e "$DEV" ] && break; sleep 5; done
if [ ! -e "$DEV" ]; then echo "data volume ${volumeId} is not attached" >&2; exit 1; fi
if ! blkid -p "$DEV" >/dev/null 2>&1; then
  mkfs.xfs -L panopticon-data "$DEV"
fi
FS_UUID=$(blkid -p -s UUID -o value "$DEV")
mkdir -p ${mountPath}
if ! grep -q "UUID=$FS_UUID" /etc/fstab; then
  echo "UUID=$FS_UUID ${mountPath} xfs defaults,nofail,x-systemd.device-timeout=30s 0 2" >> /etc/fstab
fi
systemctl daemon-reload
mount ${mountPath}

mkdir -p /etc/systemd/system/docker.service.d
cat > /etc/systemd/system/docker.service.d/panopticon-data.conf <<'UNIT'
[Unit]
RequiresMountsFor=${mountPath}
UNIT
systemctl daemon-reload
systemctl enable --now docker
`;
}

/**
 * The EC2 instance that runs the Panopticon containers. IMDSv2 only (hop limit 2 so
 * containers can still reach it through the bridge), encrypted root disk, managed
 * through SSM (no inbound rule at all unless admin CIDRs are configured, and never
 * from 0.0.0.0/0), with the EBS data disk attached by a separate, stateless
 * attachment that stops the instance before detaching so the filesystem is clean.
 */
export class DockerHost extends pulumi.ComponentResource {
  public readonly instance: aws.ec2.Instance;
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly attachment: aws.ec2.VolumeAttachment;
  /** The instance's role (granted pull-only access to the stack's image repositories). */
  public readonly role: aws.iam.Role;
  public readonly instanceId: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;

  private readonly phys: string;

  constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.DockerHost, name, {}, opts);
    this.phys = physicalName(PROJECT, args.stack, "docker-host");
    this.securityGroup = this.createSecurityGroup(name, args);
    const identity = this.createIdentity(name, args);
    this.role = identity.role;
    this.instance = this.createInstance(name, args, identity);
    this.attachment = new aws.ec2.VolumeAttachment(
      `${name}-data`,
      {
        instanceId: this.instance.id,
        volumeId: args.dataVolumeId,
        // Ignored by Nitro (the disk appears as /dev/nvmeXn1); the script finds it by id.
        deviceName: "/dev/sdf",
        stopInstanceBeforeDetaching: true,
      },
      { parent: this },
    );
    this.instanceId = this.instance.id;
    this.privateIp = this.instance.privateIp;
    this.registerOutputs({
      instanceId: this.instanceId,
      privateIp: this.privateIp,
      securityGroupId: this.securityGroup.id,
    });
  }

  /** SSH from the admin ranges only (none: SSM only); everything out. */
  private createSecurityGroup(name: string, args: DockerHostArgs): aws.ec2.SecurityGroup {
    return new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: this.phys,
        description: "Panopticon Docker host: SSM, SSH from admin ranges only",
        vpcId: args.vpcId,
        ingress: args.adminCidrs.map((cidr) => ({
          description: "SSH from an admin range",
          protocol: "tcp",
          fromPort: 22,
          toPort: 22,
          cidrBlocks: [cidr],
        })),
        // Packages, container images and the SSM endpoints, through the NAT gateway.
        egress: [
          {
            description: "all outbound",
            protocol: "-1",
            fromPort: 0,
            toPort: 0,
            cidrBlocks: ["0.0.0.0/0"],
          },
        ],
        tags: nameTag(this.phys),
      },
      { parent: this },
    );
  }

  /** The instance's role (managed through SSM) and the profile that hands it over. */
  private createIdentity(name: string, args: DockerHostArgs): HostIdentity {
    const child = { parent: this };
    const role = new aws.iam.Role(
      `${name}-role`,
      { name: this.phys, assumeRolePolicy: assumeRolePolicy("ec2.amazonaws.com") },
      child,
    );
    const ssm = new aws.iam.RolePolicyAttachment(
      `${name}-ssm`,
      {
        role: role.name,
        policyArn: `arn:${args.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
      },
      child,
    );
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { name: this.phys, role: role.name },
      child,
    );
    return { role, ssm, profile };
  }

  private createInstance(name: string, args: DockerHostArgs, id: HostIdentity): aws.ec2.Instance {
    const ami =
      args.amiId ??
      aws.ec2.getAmiOutput(
        {
          owners: ["amazon"],
          mostRecent: true,
          filters: [
            { name: "name", values: [`al2023-ami-2023.*-${args.architecture}`] },
            { name: "architecture", values: [args.architecture] },
            { name: "virtualization-type", values: ["hvm"] },
          ],
        },
        { parent: this },
      ).id;
    return new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami,
        instanceType: args.instanceType,
        subnetId: args.subnetId,
        vpcSecurityGroupIds: [this.securityGroup.id],
        associatePublicIpAddress: false,
        // One-minute CloudWatch metrics (AWSGuard ec2-instance-detailed-monitoring-enabled):
        // a host that runs every service needs to show a CPU or memory spike as it happens,
        // not as a five-minute average. Changes in place, no restart.
        monitoring: true,
        iamInstanceProfile: id.profile.name,
        keyName: args.sshKeyName,
        metadataOptions: {
          httpTokens: "required",
          httpEndpoint: "enabled",
          httpPutResponseHopLimit: 2,
        },
        rootBlockDevice: {
          volumeType: "gp3",
          volumeSize: 30,
          encrypted: true,
          kmsKeyId: args.kmsKeyArn,
          deleteOnTermination: true,
        },
        userData: pulumi
          .output(args.dataVolumeId)
          .apply((volumeId) => hostUserData(volumeId, args.dataMountPath)),
        // A changed script is applied by a stop/start, never by a new instance.
        userDataReplaceOnChange: false,
        tags: nameTag(this.phys),
      },
      {
        parent: this,
        // Reachable through SSM from its first boot, and for as long as it exists.
        dependsOn: [id.ssm],
        // A newer Amazon Linux release must not replace the host on the next `up`;
        // a pinned amiId is deliberate and is applied.
        ignoreChanges: args.amiId === undefined ? ["ami"] : undefined,
      },
    );
  }
}

/** What the instance runs as. */
interface HostIdentity {
  readonly role: aws.iam.Role;
  /** SSM's managed policy on the role: the instance waits for it. */
  readonly ssm: aws.iam.RolePolicyAttachment;
  readonly profile: aws.iam.InstanceProfile;
}
