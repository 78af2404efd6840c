import { isStatefulType } from "../../policy/stateful";
import { RecordedResource } from "./harness";

/*
 * The safety rules of the ECS runtime, as checks over what reached the engine. Each
 * returns its violations (empty = compliant); tests/program-ecs.test.ts runs every
 * rule on the real ECS stack (expect none) and on a broken twin (expect a violation).
 */

export type Rule = (resources: readonly RecordedResource[]) => string[];
type Json = Record<string, unknown>;

export const E = {
  cluster: "aws:ecs/cluster:Cluster",
  service: "aws:ecs/service:Service",
  taskDef: "aws:ecs/taskDefinition:TaskDefinition",
  accessPoint: "aws:efs/accessPoint:AccessPoint",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  lb: "aws:lb/loadBalancer:LoadBalancer",
  listener: "aws:lb/listener:Listener",
  targetGroup: "aws:lb/targetGroup:TargetGroup",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  scalingTarget: "aws:appautoscaling/target:Target",
  scalingPolicy: "aws:appautoscaling/policy:Policy",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  secret: "aws:secretsmanager/secret:Secret",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  ecr: "aws:ecr/repository:Repository",
  bucket: "aws:s3/bucket:Bucket",
  kms: "aws:kms/key:Key",
  fsPolicy: "aws:efs/fileSystemPolicy:FileSystemPolicy",
} as const;

const inputs = (r: RecordedResource) => r.plainInputs as Json;

/** The parsed container definitions of a task definition. */
export function containers(td: RecordedResource): Json[] {
  return JSON.parse(String(inputs(td).containerDefinitions)) as Json[];
}

/** The ECS service's task definition (by the dependency the service carries). */
export function taskDefOf(resources: readonly RecordedResource[], svc: RecordedResource) {
  return resources.find((r) => r.type === E.taskDef && svc.dependencies.includes(r.urn));
}

const efsVolumes = (td: RecordedResource) =>
  ((inputs(td).volumes as Json[] | undefined) ?? []).filter((v) => v.efsVolumeConfiguration);

/**
 * No secret in plain text: a secret variable (the given names, the database password
 * and URL) is never in a container's `environment`, and every `secrets` entry is a
 * Secrets Manager reference.
 */
export const noPlainSecretEnv =
  (secretNames: readonly string[]): Rule =>
  (resources) => {
    const names = new Set([...secretNames, "POSTGRES_PASSWORD", "DATABASE_URL", "PGPASSWORD"]);
    return resources
      .filter((r) => r.type === E.taskDef)
      .flatMap((td) =>
        containers(td).flatMap((c) => [
          ...((c.environment as Json[] | undefined) ?? [])
            .filter((e) => names.has(String(e.name)))
            .map((e) => `${td.name}/${c.name}: ${e.name} in plain environment`),
          ...((c.secrets as Json[] | undefined) ?? [])
            .filter((s) => !/^arn:aws[a-z-]*:secretsmanager:/.test(String(s.valueFrom)))
            .map((s) => `${td.name}/${c.name}: ${s.name} is not a Secrets Manager reference`),
        ]),
      );
  };

/**
 * EFS only through an access point with TLS and IAM, and each task role may mount
 * only the access point of its own task (the policy's condition names it).
 */
export const efsAccessPointsAndIam: Rule = (resources) => {
  const out: string[] = [];
  const aps = resources.filter((r) => r.type === E.accessPoint);
  for (const ap of aps) {
    const i = inputs(ap);
    const creation = (i.rootDirectory as Json | undefined)?.creationInfo as Json | undefined;
    if (!i.posixUser) out.push(`${ap.name}: no posixUser`);
    if (
      creation?.ownerUid === undefined ||
      creation?.ownerGid === undefined ||
      !creation.permissions
    )
      out.push(`${ap.name}: root directory has no creationInfo`);
  }
  const fsPolicies = resources.filter((r) => r.type === E.fsPolicy);
  const usesEfs = resources.some((r) => r.type === E.taskDef && efsVolumes(r).length > 0);
  if (
    usesEfs &&
    !fsPolicies.some((p) => /"aws:SecureTransport":"false"/.test(String(inputs(p).policy)))
  )
    out.push("EFS: no file system policy refusing mounts without TLS (anonymous NFS allowed)");
  for (const td of resources.filter((r) => r.type === E.taskDef)) {
    for (const v of efsVolumes(td)) {
      const cfg = v.efsVolumeConfiguration as Json;
      const auth = (cfg.authorizationConfig ?? {}) as Json;
      if (cfg.transitEncryption !== "ENABLED") out.push(`${td.name}: transitEncryption off`);
      if (auth.iam !== "ENABLED") out.push(`${td.name}: IAM authorisation off`);
      if (!auth.accessPointId) out.push(`${td.name}: no access point`);
      if (cfg.rootDirectory !== undefined && cfg.rootDirectory !== "/")
        out.push(`${td.name}: rootDirectory ${cfg.rootDirectory} bypasses the access point`);
    }
    if (efsVolumes(td).length === 0) continue;
    const own = aps.filter((ap) => td.dependencies.includes(ap.urn));
    const roleName = String(inputs(td).taskRoleArn).split("/").pop();
    const grants = resources.filter(
      (r) =>
        r.type === E.rolePolicy &&
        String(inputs(r).role) === `${roleName}-id` &&
        String(inputs(r).policy).includes("elasticfilesystem:Client"),
    );
    if (own.length !== 1) out.push(`${td.name}: expected one access point, found ${own.length}`);
    if (grants.length !== 1) out.push(`${td.name}: expected one EFS grant, found ${grants.length}`);
    for (const g of grants) {
      const statements = (JSON.parse(String(inputs(g).policy)) as { Statement: Json[] }).Statement;
      const granted = aps.filter((ap) => g.dependencies.includes(ap.urn));
      if (statements.some((s) => !(s.Condition as Json | undefined)?.StringEquals))
        out.push(`${g.name}: mounts without an access point condition`);
      if (granted.length !== 1 || granted[0] !== own[0])
        out.push(
          `${g.name}: grants ${granted.map((a) => a.name).join(",") || "no"} access point, not its own`,
        );
    }
  }
  return out;
};

/** A service with file data runs one task, and a deployment never starts a second. */
export const singleWriter: Rule = (resources) =>
  resources
    .filter((r) => r.type === E.service)
    .flatMap((svc) => {
      const td = taskDefOf(resources, svc);
      if (td === undefined || efsVolumes(td).length === 0) return [];
      const i = inputs(svc);
      const out: string[] = [];
      if (i.desiredCount !== 1) out.push(`${svc.name}: desiredCount ${i.desiredCount}`);
      if (i.deploymentMinimumHealthyPercent !== 0)
        out.push(`${svc.name}: minimum healthy ${i.deploymentMinimumHealthyPercent}%`);
      if (i.deploymentMaximumPercent !== 100)
        out.push(`${svc.name}: maximum ${i.deploymentMaximumPercent}%`);
      const scaled = resources.filter(
        (r) => r.type === E.scalingTarget && r.dependencies.includes(svc.urn),
      );
      if (scaled.some((t) => Number(inputs(t).maxCapacity) > 1))
        out.push(`${svc.name}: autoscaled above one task`);
      return out;
    });

const OPEN = ["0.0.0.0/0", "::/0"];

/** Internal only: no public load balancer, no plain HTTP, no public IP, no open ingress. */
export const internalOnly: Rule = (resources) =>
  resources.flatMap((r) => {
    const i = inputs(r);
    if (r.type === E.lb) return i.internal === true ? [] : [`${r.name}: not internal`];
    if (r.type === E.listener) {
      return i.protocol === "HTTPS" && typeof i.certificateArn === "string"
        ? []
        : [`${r.name}: ${i.protocol} listener`];
    }
    if (r.type === E.service) {
      const net = (i.networkConfiguration ?? {}) as Json;
      return net.assignPublicIp === false ? [] : [`${r.name}: public IP`];
    }
    if (r.type === E.sg) {
      return ((i.ingress as Json[] | undefined) ?? [])
        .flatMap((rule) => [
          ...((rule.cidrBlocks as string[] | undefined) ?? []),
          ...((rule.ipv6CidrBlocks as string[] | undefined) ?? []),
        ])
        .filter((c) => OPEN.includes(c))
        .map((c) => `${r.name}: ingress ${c}`);
    }
    if (r.type === E.ingressRule) {
      return [i.cidrIpv4, i.cidrIpv6]
        .filter((c) => OPEN.includes(String(c)))
        .map((c) => `${r.name}: ingress ${c}`);
    }
    return [];
  });

/** Every stateless service scales, between sane bounds, on CPU. */
export const autoscalingBounds: Rule = (resources) => {
  const out: string[] = [];
  for (const t of resources.filter((r) => r.type === E.scalingTarget)) {
    const i = inputs(t);
    const min = Number(i.minCapacity);
    const max = Number(i.maxCapacity);
    if (!(min >= 1)) out.push(`${t.name}: min ${min}`);
    if (!(min <= max)) out.push(`${t.name}: min ${min} > max ${max}`);
    const policy = resources.find(
      (r) => r.type === E.scalingPolicy && r.dependencies.includes(t.urn),
    );
    const cfg = (inputs(policy ?? t).targetTrackingScalingPolicyConfiguration ?? {}) as Json;
    const target = Number(cfg.targetValue);
    if (policy === undefined || !(target >= 10 && target <= 90))
      out.push(`${t.name}: no CPU target between 10 and 90 %`);
  }
  for (const svc of resources.filter((r) => r.type === E.service)) {
    const td = taskDefOf(resources, svc);
    if (td === undefined || efsVolumes(td).length > 0) continue;
    const has = resources.some(
      (r) => r.type === E.scalingTarget && r.dependencies.includes(svc.urn),
    );
    if (!has) out.push(`${svc.name}: stateless but not autoscaled`);
    if (has && !svc.ignoreChanges.includes("desiredCount"))
      out.push(`${svc.name}: desiredCount fights the autoscaler`);
  }
  return out;
};

/** Types that hold no data: never protected, so `destroy --exclude-protected` removes them. */
export const DATALESS_TYPES = [E.cluster, E.service, E.taskDef, E.lb, E.listener, E.targetGroup];

/** Stateful resources protected and retained; the dataless ones neither. */
export const ecsProtection: Rule = (resources) =>
  resources.flatMap((r) => {
    if (isStatefulType(r.type)) {
      return [
        ...(r.protect ? [] : [`${r.name}: not protected`]),
        ...(r.retainOnDelete ? [] : [`${r.name}: not retained on delete`]),
      ];
    }
    if ((DATALESS_TYPES as readonly string[]).includes(r.type) && (r.protect || r.retainOnDelete))
      return [`${r.name}: holds no data but is protected or retained`];
    return [];
  });
