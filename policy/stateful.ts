import { RESOURCE_TYPES } from "../components/contract";

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
  RESOURCE_TYPES.dockerVolume,
  RESOURCE_TYPES.rdsInstance,
  RESOURCE_TYPES.efsFileSystem,
  RESOURCE_TYPES.ebsVolume,
  RESOURCE_TYPES.kmsKey,
  RESOURCE_TYPES.secret,
  RESOURCE_TYPES.secretVersion,
  RESOURCE_TYPES.ecrRepository,
  RESOURCE_TYPES.s3Bucket,
] as const;

export type StatefulType = (typeof STATEFUL_TYPES)[number];

export function isStatefulType(type: string): type is StatefulType {
  return (STATEFUL_TYPES as readonly string[]).includes(type);
}

/** What losing each stateful type means, for messages and the PR comment. */
export const STATEFUL_LABELS: Record<StatefulType, string> = {
  [RESOURCE_TYPES.dockerVolume]: "Docker volume",
  [RESOURCE_TYPES.rdsInstance]: "RDS instance",
  [RESOURCE_TYPES.efsFileSystem]: "EFS file system",
  [RESOURCE_TYPES.ebsVolume]: "EBS volume",
  [RESOURCE_TYPES.kmsKey]: "KMS key (data encrypted with it becomes unreadable)",
  [RESOURCE_TYPES.secret]: "Secrets Manager secret",
  [RESOURCE_TYPES.secretVersion]: "secret value",
  [RESOURCE_TYPES.ecrRepository]: "ECR repository (its images)",
  [RESOURCE_TYPES.s3Bucket]: "S3 bucket (access logs)",
};
