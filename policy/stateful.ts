/**
 * The resource types that hold data in this project. The policy pack and the
 * preview guard (`npm run guard`) both read this one list, so a type added here
 * is protected in prod by the pack and reported by the guard at the same time.
 *
 * Containers are deliberately absent: their data lives on volumes, so replacing
 * a container loses nothing. RDS clusters are not used by this project.
 * The ECS runtime adds what it keeps: secrets (and their values), image
 * repositories and the load balancer's access-log bucket. ECS services, task
 * definitions, the cluster and the load balancer hold no data and are absent.
 */
export const STATEFUL_TYPES = [
  "docker:index/volume:Volume",
  "aws:rds/instance:Instance",
  "aws:efs/fileSystem:FileSystem",
  "aws:ebs/volume:Volume",
  "aws:kms/key:Key",
  "aws:secretsmanager/secret:Secret",
  "aws:secretsmanager/secretVersion:SecretVersion",
  "aws:ecr/repository:Repository",
  "aws:s3/bucket:Bucket",
] as const;

export type StatefulType = (typeof STATEFUL_TYPES)[number];

export function isStatefulType(type: string): type is StatefulType {
  return (STATEFUL_TYPES as readonly string[]).includes(type);
}

/** What losing each stateful type means, for messages and the PR comment. */
export const STATEFUL_LABELS: Record<StatefulType, string> = {
  "docker:index/volume:Volume": "Docker volume",
  "aws:rds/instance:Instance": "RDS instance",
  "aws:efs/fileSystem:FileSystem": "EFS file system",
  "aws:ebs/volume:Volume": "EBS volume",
  "aws:kms/key:Key": "KMS key (data encrypted with it becomes unreadable)",
  "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
  "aws:secretsmanager/secretVersion:SecretVersion": "secret value",
  "aws:ecr/repository:Repository": "ECR repository (its images)",
  "aws:s3/bucket:Bucket": "S3 bucket (access logs)",
};
