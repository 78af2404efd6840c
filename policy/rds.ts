import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ofType, show, T } from "./match";

/* The RDS policies: the database survives a delete, keeps backups, is encrypted and private. */

export const MIN_BACKUP_RETENTION_DAYS = 7;

const deletionProtection: ResourceValidationPolicy = {
  name: "rds-deletion-protection",
  description: "RDS instances have deletionProtection: true.",
  validateResource: ofType(T.rdsInstance, (args, report) => {
    if (args.props.deletionProtection !== true) {
      report(
        `deletionProtection = ${show(args.props.deletionProtection)}: expected true, so AWS refuses to delete the database`,
      );
    }
  }),
};

const finalSnapshot: ResourceValidationPolicy = {
  name: "rds-final-snapshot",
  description: "RDS instances take a final snapshot on deletion (named, never skipped).",
  validateResource: ofType(T.rdsInstance, (args, report) => {
    if (args.props.skipFinalSnapshot === true) {
      report("skipFinalSnapshot = true: expected false, so deleting the instance keeps a snapshot");
    }
    const id = args.props.finalSnapshotIdentifier;
    if (typeof id !== "string" || id === "") {
      report(
        `finalSnapshotIdentifier = ${show(id)}: expected a name (with a stable random suffix); ` +
          "without it the delete fails late (pulumi/pulumi-aws#2196)",
      );
    }
  }),
};

const backupRetention: ResourceValidationPolicy = {
  name: "rds-backup-retention",
  description: `RDS instances keep automated backups for at least ${MIN_BACKUP_RETENTION_DAYS} days.`,
  validateResource: ofType(T.rdsInstance, (args, report) => {
    const days = args.props.backupRetentionPeriod;
    if (typeof days !== "number" || days < MIN_BACKUP_RETENTION_DAYS) {
      report(
        `backupRetentionPeriod = ${show(days)}: expected at least ${MIN_BACKUP_RETENTION_DAYS} days`,
      );
    }
  }),
};

const encrypted: ResourceValidationPolicy = {
  name: "rds-encrypted",
  description: "RDS instances encrypt their storage.",
  validateResource: ofType(T.rdsInstance, (args, report) => {
    if (args.props.storageEncrypted !== true) {
      report(`storageEncrypted = ${show(args.props.storageEncrypted)}: expected true`);
    }
  }),
};

const notPublic: ResourceValidationPolicy = {
  name: "rds-not-public",
  description: "RDS instances are not publicly accessible.",
  validateResource: ofType(T.rdsInstance, (args, report) => {
    if (args.props.publiclyAccessible === true) {
      report("publiclyAccessible = true: expected false; reach the database from the VPC only");
    }
  }),
};

/** The RDS policies, in pack order. */
export function rdsPolicies(): ResourceValidationPolicy[] {
  return [deletionProtection, finalSnapshot, backupRetention, encrypted, notPublic];
}
