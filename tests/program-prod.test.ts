import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { hostUserData, nvmeDevicePath } from "../components/runtime/docker-host/host";
import { subnetCidrs } from "../components/aws/network";
import { SNAPSHOT_TAG } from "../components/aws/types";
import { RDS_ADOPT_IGNORE_CHANGES } from "../components/aws/rds-postgres";
import {
  EFS_MOUNT_OPTIONS,
  efsDataSetPath,
  efsDriverOpts,
  efsLocation,
} from "../components/storage/nfs-volume";
import { scriptHasSecretAssignment } from "../policy/secrets";
import { STATEFUL_TYPES } from "../policy/stateful";
import {
  FIXTURE_SOURCE,
  isSecretWrapper,
  plainStrings,
  PROJECT_DIR,
  ProgramRun,
  RecordedResource,
  runProgram,
  promotedStackFile,
} from "./support/harness";
import {
  CONTAINER,
  IMAGE,
  LOCAL_RULES,
  noPlainSecret,
  serviceContainers,
  VOLUME,
} from "./support/rules";

/*
 * The prod stack (Pulumi.prod.yaml, environment aws) under mocks. Every safety rule
 * is a check over what reached the engine that returns its violations; each runs on
 * the real prod program (expect none) and on a broken recording or config (expect
 * the violation), so no check can pass without looking.
 */

const T = {
  rds: "aws:rds/instance:Instance",
  rdsSubnets: "aws:rds/subnetGroup:SubnetGroup",
  efs: "aws:efs/fileSystem:FileSystem",
  efsBackup: "aws:efs/backupPolicy:BackupPolicy",
  mountTarget: "aws:efs/mountTarget:MountTarget",
  ebs: "aws:ebs/volume:Volume",
  kms: "aws:kms/key:Key",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  sgRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  instance: "aws:ec2/instance:Instance",
  attachment: "aws:ec2/volumeAttachment:VolumeAttachment",
  dlm: "aws:dlm/lifecyclePolicy:LifecyclePolicy",
  randomId: "random:index/randomId:RandomId",
  vpc: "aws:ec2/vpc:Vpc",
  subnet: "aws:ec2/subnet:Subnet",
  nat: "aws:ec2/natGateway:NatGateway",
  awsProvider: "pulumi:providers:aws",
  dockerProvider: "pulumi:providers:docker",
} as const;

const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;
const STACK_FILE = promotedStackFile("Pulumi.prod.yaml") as {
  config: Record<string, unknown>;
};
const DEV_FILE = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
  config: Record<string, unknown>;
};

type Json = Record<string, unknown>;

/** The prod config block with `patch` merged into `panopticon:aws` (undefined deletes a key). */
function prodConfig(patch: Json = {}, top: Json = {}): Json {
  const config = structuredClone(STACK_FILE.config);
  const merge = (into: Json, from: Json) => {
    for (const [k, v] of Object.entries(from)) {
      if (v === undefined) delete into[k];
      else if (v && typeof v === "object" && !Array.isArray(v) && typeof into[k] === "object")
        merge(into[k] as Json, v as Json);
      else into[k] = v;
    }
  };
  merge(config["panopticon:aws"] as Json, patch);
  merge(config, top);
  return config;
}

async function prodRun(
  patch: Json = {},
  opts: { stack?: string; secrets?: Record<string, string>; top?: Json } = {},
): Promise<ProgramRun> {
  const run = await runProgram({
    stack: opts.stack ?? "prod",
    config: prodConfig(patch, opts.top),
    secrets: opts.secrets,
  });
  if (run.error) throw run.error;
  return run;
}

const inputs = (r: RecordedResource) => r.plainInputs as Json;
const only = (run: ProgramRun, type: string) => {
  const found = run.byType(type);
  expect(found).toHaveLength(1);
  return found[0];
};
/** The Docker provider of the containers and volumes (images may use their own). */
const mainDocker = (run: ProgramRun) =>
  run.byType(T.dockerProvider).find((p) => p.name === "panopticon-aws-docker")!;
/** A copy of a recording with some inputs or options changed: the "broken" case of a rule. */
function doctor(
  r: RecordedResource,
  inputsPatch: Json = {},
  opts: Partial<RecordedResource> = {},
): RecordedResource {
  return { ...r, ...opts, plainInputs: { ...r.plainInputs, ...inputsPatch } } as RecordedResource;
}
function replaced(
  resources: readonly RecordedResource[],
  target: RecordedResource,
  by: RecordedResource,
): RecordedResource[] {
  return resources.map((r) => (r === target ? by : r));
}

// ---------------------------------------------------------------- rules

type Rule = (resources: readonly RecordedResource[]) => string[];

/** Stateful resources (the policy pack's list) are protected and retained. */
const statefulProtected: Rule = (resources) =>
  resources
    .filter((r) => (STATEFUL_TYPES as readonly string[]).includes(r.type))
    .flatMap((r) => [
      ...(r.protect ? [] : [`${r.name}: not protected`]),
      ...(r.retainOnDelete ? [] : [`${r.name}: not retained on delete`]),
    ]);

/** Every data-safety setting of an RDS instance. */
const rdsSafe: Rule = (resources) =>
  resources
    .filter((r) => r.type === T.rds)
    .flatMap((r) => {
      const i = inputs(r);
      const out: string[] = [];
      const want = (field: string, ok: boolean) =>
        ok ? undefined : out.push(`${r.name}: ${field} = ${JSON.stringify(i[field])}`);
      want("deletionProtection", i.deletionProtection === true);
      want("skipFinalSnapshot", i.skipFinalSnapshot === false);
      want(
        "finalSnapshotIdentifier",
        /^panopticon-[a-z0-9-]+-final-[0-9a-f]{8}$/.test(String(i.finalSnapshotIdentifier)),
      );
      want("deleteAutomatedBackups", i.deleteAutomatedBackups === false);
      want("copyTagsToSnapshot", i.copyTagsToSnapshot === true);
      want("storageEncrypted", i.storageEncrypted === true);
      want("kmsKeyId", KMS_ARN.test(String(i.kmsKeyId)));
      want("publiclyAccessible", i.publiclyAccessible === false);
      want("backupRetentionPeriod", Number(i.backupRetentionPeriod) >= 7);
      want("dbSubnetGroupName", typeof i.dbSubnetGroupName === "string");
      if (!isSecretWrapper(r.inputs.password)) out.push(`${r.name}: password is not a secret`);
      if (r.inputs.skipFinalSnapshot === true) out.push(`${r.name}: skipFinalSnapshot`);
      return out;
    });

/** EFS, EBS and the host's root disk are encrypted, with a customer key given by ARN. */
const encryptedWithKeyArn: Rule = (resources) =>
  resources.flatMap((r) => {
    const i = inputs(r);
    if (r.type === T.efs || r.type === T.ebs) {
      return [
        ...(i.encrypted === true ? [] : [`${r.name}: not encrypted`]),
        ...(KMS_ARN.test(String(i.kmsKeyId)) ? [] : [`${r.name}: kmsKeyId ${i.kmsKeyId}`]),
      ];
    }
    if (r.type === T.instance) {
      const root = i.rootBlockDevice as Json | undefined;
      return root?.encrypted === true && KMS_ARN.test(String(root.kmsKeyId))
        ? []
        : [`${r.name}: root disk not encrypted with the key`];
    }
    return [];
  });

/** IMDSv2 only, and user data that never replaces the host. */
const imdsV2: Rule = (resources) =>
  resources
    .filter((r) => r.type === T.instance)
    .flatMap((r) => {
      const m = (inputs(r).metadataOptions ?? {}) as Json;
      return [
        ...(m.httpTokens === "required" ? [] : [`${r.name}: httpTokens ${m.httpTokens}`]),
        ...(inputs(r).userDataReplaceOnChange === false
          ? []
          : [`${r.name}: a user data change replaces the instance`]),
      ];
    });

const OPEN = ["0.0.0.0/0", "::/0"];
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** No ingress from the whole internet, whatever form the rule takes. */
const noOpenIngress: Rule = (resources) =>
  resources.flatMap((r) => {
    const i = inputs(r);
    const open = (rule: Json, keys: string[]) =>
      keys.flatMap((k) => list(rule[k])).filter((c) => OPEN.includes(String(c)));
    if (r.type === T.sg) {
      return list(i.ingress).flatMap((rule) =>
        open(rule as Json, ["cidrBlocks", "ipv6CidrBlocks"]).map((c) => `${r.name}: ingress ${c}`),
      );
    }
    if (r.type === T.sgRule && i.type === "ingress") {
      return open(i, ["cidrBlocks", "ipv6CidrBlocks"]).map((c) => `${r.name}: ingress ${c}`);
    }
    if (r.type === T.ingressRule) {
      return open(i, ["cidrIpv4", "cidrIpv6"]).map((c) => `${r.name}: ingress ${c}`);
    }
    return [];
  });

/** RDS replaces the postgres container in AWS stacks. */
const noPostgresContainer: Rule = (resources) =>
  resources
    .filter(
      (r) =>
        (r.type === CONTAINER && /postgres/.test(String(inputs(r).name))) ||
        // A published postgres/pgvector image, or one built from a checkout's postgres/Dockerfile.
        (r.type === IMAGE &&
          /(^|\/)(postgres|pgvector)[:@]|-postgres:built$/.test(String(inputs(r).name))),
    )
    .map((r) => `${r.name}: a postgres container or image in an AWS stack`);

const PROD_RULES: Record<string, Rule> = {
  ...LOCAL_RULES,
  statefulProtected,
  rdsSafe,
  encryptedWithKeyArn,
  imdsV2,
  noOpenIngress,
  noPostgresContainer,
};

/** What `pulumi destroy --exclude-protected` keeps: protected resources and everything they
 * depend on (parent, dependencies, provider), transitively, as the CLI computes it. */
function keptByExcludeProtected(resources: readonly RecordedResource[]): Set<RecordedResource> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const kept = new Set<RecordedResource>();
  const visit = (r: RecordedResource | undefined) => {
    if (r === undefined || kept.has(r)) return;
    kept.add(r);
    const provider = r.provider ? r.provider.split("::").slice(0, -1).join("::") : "";
    [r.parent, provider, ...r.dependencies].forEach((u) => visit(byUrn.get(u)));
  };
  resources.filter((r) => r.protect).forEach(visit);
  return kept;
}

// ---------------------------------------------------------------- the prod stack file

describe("prod stack (Pulumi.prod.yaml)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await prodRun();
  }, 60_000);

  test.each(Object.keys(PROD_RULES))("rule %s: no violation", (rule) => {
    expect(PROD_RULES[rule](run.resources)).toEqual([]);
  });

  test("the environment comes from config: Pulumi.prod.yaml's config on another stack name is AWS, the dev file named prod is local", async () => {
    const staging = await prodRun({}, { stack: "staging" });
    expect(staging.byType(T.rds)).toHaveLength(1);
    expect(inputs(only(staging, T.rds)).identifier).toBe("panopticon-staging-postgres");

    const devNamedProd = await runProgram({
      stack: "prod",
      config: { ...DEV_FILE.config, "panopticon:appSource": FIXTURE_SOURCE },
    });
    if (devNamedProd.error) throw devNamedProd.error;
    expect(devNamedProd.resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    // ...and the AWS rule catches its postgres container and image.
    expect(noPostgresContainer(devNamedProd.resources)).toEqual([
      "panopticon-postgres-image: a postgres container or image in an AWS stack",
      "panopticon-postgres-container: a postgres container or image in an AWS stack",
    ]);
  }, 60_000);

  test("rule statefulProtected catches an unprotected or unretained resource", () => {
    for (const type of [T.rds, T.efs, T.ebs, T.kms, VOLUME]) {
      const r = run.byType(type)[0];
      expect(r).toBeDefined();
      expect(
        statefulProtected(replaced(run.resources, r, doctor(r, {}, { protect: false }))),
      ).toEqual([`${r.name}: not protected`]);
      expect(
        statefulProtected(replaced(run.resources, r, doctor(r, {}, { retainOnDelete: false }))),
      ).toEqual([`${r.name}: not retained on delete`]);
    }
  });

  test("RDS: protected, retained, deletion protection, final snapshot with a stable random suffix", () => {
    const rds = only(run, T.rds);
    const i = inputs(rds);
    expect([rds.protect, rds.retainOnDelete]).toEqual([true, true]);
    expect(i.identifier).toBe("panopticon-prod-postgres");
    expect(i.engine).toBe("postgres");
    expect(i.dbName).toBe("panopticon");
    expect(i.name).toBeUndefined();
    const suffix = only(run, T.randomId);
    // The suffix is retained and protected like the instance it names, and has no
    // keeper that changes from run to run.
    expect([suffix.protect, suffix.retainOnDelete]).toEqual([true, true]);
    expect(inputs(suffix).keepers).toEqual({ identifier: "panopticon-prod-postgres" });
    expect(rds.dependencies).toContain(suffix.urn);
    expect(i.finalSnapshotIdentifier).toMatch(/^panopticon-prod-postgres-final-[0-9a-f]{8}$/);
    expect((run.outputs.aws as Json).rdsFinalSnapshotIdentifier).toBe(i.finalSnapshotIdentifier);
    expect(rds.ignoreChanges).toEqual([]);
    expect(rds.importId).toBe("");
  });

  test("RDS: backups, encryption with the key's ARN, private, Multi-AZ, 5432 only from the host", () => {
    const rds = only(run, T.rds);
    const i = inputs(rds);
    expect(i).toMatchObject({
      backupRetentionPeriod: 14,
      deleteAutomatedBackups: false,
      copyTagsToSnapshot: true,
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: true,
      deletionProtection: true,
      skipFinalSnapshot: false,
      // A major change needs aws.rds.allowMajorVersionUpgrade (the knobs test sets it).
      allowMajorVersionUpgrade: false,
    });
    expect(i.kmsKeyId).toBe((run.outputs.aws as Json).kmsKeyArn);
    expect(i.kmsKeyId).toMatch(KMS_ARN);
    const subnetGroup = only(run, T.rdsSubnets);
    expect(i.dbSubnetGroupName).toBe(inputs(subnetGroup).name);
    expect((inputs(subnetGroup).subnetIds as string[]).length).toBeGreaterThanOrEqual(2);

    const sgs = run.byType(T.sg);
    const hostSg = sgs.find((s) => s.name.endsWith("host-sg"))!;
    const rdsSg = sgs.find((s) => s.name.endsWith("postgres-sg"))!;
    const hostSgId = (inputs(only(run, T.instance)).vpcSecurityGroupIds as string[])[0];
    expect(hostSgId).toMatch(/^sg-/);
    // The instance sits in its own group; the database in another that admits only that one.
    expect((i.vpcSecurityGroupIds as string[]).length).toBe(1);
    expect((i.vpcSecurityGroupIds as string[])[0]).not.toBe(hostSgId);
    expect(rds.dependencies).toContain(rdsSg.urn);
    expect(rdsSg.dependencies).toContain(hostSg.urn);
    expect(inputs(rdsSg).ingress).toEqual([
      expect.objectContaining({
        fromPort: 5432,
        toPort: 5432,
        protocol: "tcp",
        securityGroups: [hostSgId],
      }),
    ]);
    expect((inputs(rdsSg).ingress as Json[])[0].cidrBlocks).toBeUndefined();
  });

  test("rule rdsSafe catches each unsafe RDS setting", () => {
    const rds = only(run, T.rds);
    const broken: Array<[Json, string]> = [
      [{ deletionProtection: false }, "deletionProtection"],
      [{ skipFinalSnapshot: true }, "skipFinalSnapshot"],
      [{ finalSnapshotIdentifier: "panopticon-prod-postgres-final" }, "finalSnapshotIdentifier"],
      [{ deleteAutomatedBackups: true }, "deleteAutomatedBackups"],
      [{ copyTagsToSnapshot: false }, "copyTagsToSnapshot"],
      [{ storageEncrypted: false }, "storageEncrypted"],
      [{ kmsKeyId: "alias/panopticon-prod-data" }, "kmsKeyId"],
      [{ publiclyAccessible: true }, "publiclyAccessible"],
      [{ backupRetentionPeriod: 1 }, "backupRetentionPeriod"],
    ];
    for (const [patch, field] of broken) {
      const found = rdsSafe([doctor(rds, patch)]);
      expect(found).toHaveLength(1);
      expect(found[0]).toContain(field);
    }
    const plainPassword = { ...rds, inputs: { ...rds.inputs, password: "x" } } as RecordedResource;
    expect(rdsSafe([plainPassword])).toEqual([`${rds.name}: password is not a secret`]);
  });

  test("the app containers get the RDS endpoint; no postgres container or image", () => {
    const address = inputs(only(run, T.rds)).identifier + ".abc123.eu-west-1.rds.amazonaws.com";
    const apps = serviceContainers(run.resources);
    expect(apps.map((c) => inputs(c).name).sort()).toEqual([
      "panopticon-prod-evaluation-storage",
      "panopticon-prod-judge-service",
      "panopticon-prod-main-app",
      "panopticon-prod-model-registry",
      "panopticon-prod-query-storage",
      "panopticon-prod-visualization-service",
    ]);
    // compose gives main-app no database settings.
    for (const c of apps.filter((a) => inputs(a).name !== "panopticon-prod-main-app")) {
      const envs = inputs(c).envs as string[];
      expect(envs).toContain(`POSTGRES_HOST=${address}`);
      expect(envs).toContain("POSTGRES_PORT=5432");
      expect(envs.some((e) => e.startsWith("POSTGRES_PASSWORD="))).toBe(true);
      // The env (with the password) reached the engine as a secret.
      expect(isSecretWrapper(c.inputs.envs)).toBe(true);
    }
    expect(noPostgresContainer(run.resources)).toEqual([]);
  });

  test("the generated password is a secret everywhere (inputs, outputs)", () => {
    const url = String(run.outputs.connectionString);
    const password = decodeURIComponent(url.split(":")[2].split("@")[0]);
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(run.secretOutputs).toContain("connectionString");
    expect(noPlainSecret(password)(run.resources)).toEqual([]);
    // Broken case: the same recordings with the secrets unwrapped expose it.
    const exposed = run.resources.map((r) => ({ ...r, inputs: r.plainInputs }));
    expect(noPlainSecret(password)(exposed).length).toBeGreaterThan(0);
  });

  test("KMS key: protected, retained, rotated; every encrypted resource uses its ARN", () => {
    const key = only(run, T.kms);
    expect([key.protect, key.retainOnDelete]).toEqual([true, true]);
    expect(inputs(key)).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
    const arn = (run.outputs.aws as Json).kmsKeyArn;
    expect(arn).toMatch(KMS_ARN);
    expect(inputs(only(run, T.rds)).kmsKeyId).toBe(arn);
    expect(inputs(only(run, T.efs)).kmsKeyId).toBe(arn);
    expect(inputs(only(run, T.ebs)).kmsKeyId).toBe(arn);
    expect((inputs(only(run, T.instance)).rootBlockDevice as Json).kmsKeyId).toBe(arn);
    // Broken case.
    const efs = only(run, T.efs);
    expect(encryptedWithKeyArn([doctor(efs, { encrypted: false })])).toEqual([
      `${efs.name}: not encrypted`,
    ]);
    expect(encryptedWithKeyArn([doctor(efs, { kmsKeyId: "alias/x" })])).toHaveLength(1);
  });

  test("Docker host: IMDSv2, SSM role, no public IP, AMI changes ignored, user data never replaces it", () => {
    const host = only(run, T.instance);
    const i = inputs(host);
    expect(i.metadataOptions).toEqual({
      httpTokens: "required",
      httpEndpoint: "enabled",
      httpPutResponseHopLimit: 2,
    });
    expect(i.associatePublicIpAddress).toBe(false);
    expect(i.userDataReplaceOnChange).toBe(false);
    expect(host.ignoreChanges).toEqual(["ami"]);
    expect(i.ami).toBe("ami-0123456789abcdef0");
    expect(i.instanceType).toBe("t3.large");
    expect(i.keyName).toBe("panopticon-prod");
    const ssm = run
      .byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .map((a) => inputs(a).policyArn);
    expect(ssm).toContain("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
    const ssmAttachment = run
      .byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .find((a) => a.name.endsWith("host-ssm"))!;
    expect(host.dependencies).toContain(ssmAttachment.urn);
    expect(imdsV2([doctor(host, { metadataOptions: { httpTokens: "optional" } })])).toHaveLength(1);
    expect(imdsV2([doctor(host, { userDataReplaceOnChange: true })])).toHaveLength(1);
  });

  test("host security group: no ingress at all by default (SSM), egress allowed", () => {
    const sg = run.byType(T.sg).find((s) => s.name.endsWith("host-sg"))!;
    expect(inputs(sg).ingress).toEqual([]);
    expect(inputs(sg).egress).toEqual([expect.objectContaining({ protocol: "-1" })]);
    // Broken cases, in every form an ingress rule can take.
    const open = doctor(sg, { ingress: [{ fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] });
    expect(noOpenIngress([open])).toEqual([`${sg.name}: ingress 0.0.0.0/0`]);
    const rule6 = doctor(sg, { ingress: [{ ipv6CidrBlocks: ["::/0"] }] });
    expect(noOpenIngress([rule6])).toEqual([`${sg.name}: ingress ::/0`]);
    const sgRule = {
      ...sg,
      type: T.sgRule,
      plainInputs: { type: "ingress", cidrBlocks: ["0.0.0.0/0"] },
    };
    expect(noOpenIngress([sgRule])).toHaveLength(1);
    const vpcRule = { ...sg, type: T.ingressRule, plainInputs: { cidrIpv4: "0.0.0.0/0" } };
    expect(noOpenIngress([vpcRule])).toHaveLength(1);
  });

  test("user data: finds the disk by volume id, formats only an empty disk, mounts with nofail, no secret", () => {
    const userData = String(inputs(only(run, T.instance)).userData);
    const volumeId = String((run.outputs.aws as Json).ebsVolumeId);
    expect(userData).toContain(
      `DEV=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}`,
    );
    expect(userData).toMatch(/if ! blkid -p "\$DEV"[^\n]*\n\s+mkfs\.xfs/);
    expect(userData).toMatch(/\/mnt\/panopticon-data xfs defaults,nofail/);
    expect(userData).toContain("RequiresMountsFor=/mnt/panopticon-data");
    expect(userData).toContain("nfs-utils");
    expect(scriptHasSecretAssignment(userData)).toBe(false);
    const password = decodeURIComponent(
      String(run.outputs.connectionString).split(":")[2].split("@")[0],
    );
    expect(userData).not.toContain(password);
    // Broken case: the rule that guards user data sees an assignment.
    expect(scriptHasSecretAssignment(`${userData}\nPGPASSWORD=${password}\n`)).toBe(true);
  });

  test("EBS data disk: in the host's zone, encrypted, final snapshot, protected, attached statelessly", () => {
    const vol = only(run, T.ebs);
    const host = only(run, T.instance);
    const i = inputs(vol);
    expect(i).toMatchObject({ encrypted: true, finalSnapshot: true, type: "gp3", size: 100 });
    const subnet = run.byType(T.subnet).find((s) => s.name.endsWith("private-0"))!;
    expect(i.availabilityZone).toBe(inputs(subnet).availabilityZone);
    expect(inputs(host).subnetId).toMatch(/^subnet-/);
    expect((i.tags as Json)[SNAPSHOT_TAG]).toBe("prod");
    expect([vol.protect, vol.retainOnDelete]).toEqual([true, true]);
    const att = only(run, T.attachment);
    expect(inputs(att)).toMatchObject({
      stopInstanceBeforeDetaching: true,
      volumeId: (run.outputs.aws as Json).ebsVolumeId,
    });
    expect([att.protect, att.retainOnDelete]).toEqual([false, false]);
  });

  test("ebs data sets are host directories on the EBS mount, prepared with the service's owner", () => {
    const byService = Object.fromEntries(
      serviceContainers(run.resources).map((c) => [inputs(c).name, inputs(c).mounts as Json[]]),
    );
    for (const [svc, dir] of [
      ["judge-service", "judge_service"],
      ["query-storage", "query_storage"],
      ["evaluation-storage", "evaluation_storage"],
    ]) {
      expect(byService[`panopticon-prod-${svc}`]).toEqual([
        { type: "bind", source: `/mnt/panopticon-data/prod/${dir}`, target: `/app/${dir}_data` },
      ]);
    }
    const init = run
      .byType(CONTAINER)
      .find((c) => inputs(c).name === "panopticon-prod-judge-init")!;
    expect(inputs(init).volumes).toEqual([
      { hostPath: "/mnt/panopticon-data/prod", containerPath: "/host" },
    ]);
    expect((inputs(init).command as string[])[2]).toContain("chown 0:0"); // compose images run as root
  });

  test("EFS: encrypted, backed up, mount targets in both private subnets, NFS only from the host", () => {
    const fs_ = only(run, T.efs);
    expect(inputs(fs_)).toMatchObject({
      encrypted: true,
      lifecyclePolicies: [{ transitionToIa: "AFTER_30_DAYS" }],
    });
    expect([fs_.protect, fs_.retainOnDelete]).toEqual([true, true]);
    const backup = only(run, T.efsBackup);
    expect(inputs(backup).backupPolicy).toEqual({ status: "ENABLED" });
    // Deleting a backup policy turns backups off: it is kept like the data.
    expect([backup.protect, backup.retainOnDelete]).toEqual([true, true]);
    const targets = run.byType(T.mountTarget);
    expect(new Set(targets.map((t) => inputs(t).subnetId)).size).toBe(2);
    const efsSg = run.byType(T.sg).find((s) => s.name.endsWith("efs-sg"))!;
    expect(inputs(efsSg).ingress).toEqual([
      expect.objectContaining({
        fromPort: 2049,
        toPort: 2049,
        securityGroups: [expect.stringMatching(/^sg-/)],
      }),
    ]);
    const hostSg = run.byType(T.sg).find((s) => s.name.endsWith("host-sg"))!;
    expect(efsSg.dependencies).toContain(hostSg.urn);
  });

  test("efs data sets are NFS volumes (local driver) on their own EFS directory, protected and retained", () => {
    const vol = only(run, VOLUME);
    const i = inputs(vol);
    expect(i.name).toBe("panopticon-prod-model-registry-data");
    expect(i.driver).toBe("local");
    expect(i.driverOpts).toEqual({
      type: "nfs",
      device: ":/prod/model_registry",
      o: `addr=fs-0abc1234.efs.eu-west-1.amazonaws.com,${EFS_MOUNT_OPTIONS}`,
    });
    expect([vol.protect, vol.retainOnDelete]).toEqual([true, true]);
    const svc = serviceContainers(run.resources).find(
      (c) => inputs(c).name === "panopticon-prod-model-registry",
    )!;
    expect(inputs(svc).mounts).toEqual([
      {
        type: "volume",
        source: "panopticon-prod-model-registry-data",
        target: "/app/model_registry_data",
      },
    ]);
    // The directory exists (with the service's owner) before the service mounts it.
    const init = run
      .byType(CONTAINER)
      .find((c) => inputs(c).name === "panopticon-prod-model-registry-init")!;
    expect(inputs(init).mounts).toEqual([
      {
        type: "volume",
        target: "/efs",
        volumeOptions: {
          driverName: "local",
          driverOptions: { ...(i.driverOpts as Json), device: ":/" },
        },
      },
    ]);
    expect((inputs(init).command as string[])[2]).toContain(
      'mkdir -p "/efs/prod/model_registry" && chown 0:0',
    );
    expect(svc.dependencies).toEqual(expect.arrayContaining([init.urn, vol.urn]));
    // NFS mounts only once the mount targets exist: volume and initialiser wait for them.
    const targets = run.byType(T.mountTarget).map((t) => t.urn);
    expect(targets).toHaveLength(2);
    expect(vol.dependencies).toEqual(expect.arrayContaining(targets));
    expect(init.dependencies).toEqual(expect.arrayContaining(targets));
  });

  test("EBS snapshots: a daily DLM policy targets the data volume's tag", () => {
    const dlm = only(run, T.dlm);
    const details = inputs(dlm).policyDetails as Json;
    expect(details.resourceTypes).toEqual(["VOLUME"]);
    expect(details.targetTags).toEqual({ [SNAPSHOT_TAG]: "prod" });
    expect((inputs(only(run, T.ebs)).tags as Json)[SNAPSHOT_TAG]).toBe("prod");
    expect(details.schedules).toEqual([
      expect.objectContaining({
        createRule: { interval: 24, intervalUnit: "HOURS", times: "02:00" },
        retainRule: { count: 14 },
        copyTags: true,
      }),
    ]);
    expect(inputs(dlm).state).toBe("ENABLED");
    // Protected with its role, so a teardown that keeps the volume keeps its schedule.
    expect(dlm.protect).toBe(true);
    const role = run.byType("aws:iam/role:Role").find((r) => r.name.endsWith("snapshots-role"))!;
    expect(role.protect).toBe(true);
    expect(JSON.parse(String(inputs(role).assumeRolePolicy)).Statement[0].Principal).toEqual({
      Service: "dlm.amazonaws.com",
    });
    expect(String(inputs(dlm).description)).toMatch(/^[0-9A-Za-z _-]+$/);
  });

  test("created network: two private subnets in two zones, one NAT gateway, no public IPs", () => {
    const subnets = run.byType(T.subnet);
    const priv = subnets.filter((s) => s.name.includes("private"));
    expect(priv).toHaveLength(2);
    expect(new Set(priv.map((s) => inputs(s).availabilityZone)).size).toBe(2);
    expect(subnets.every((s) => inputs(s).mapPublicIpOnLaunch === false)).toBe(true);
    expect(run.byType(T.nat)).toHaveLength(1);
    expect(inputs(only(run, T.vpc))).toMatchObject({
      cidrBlock: "10.42.0.0/16",
      enableDnsHostnames: true,
      enableDnsSupport: true,
    });
  });

  test("providers: every AWS resource uses the stack's provider, every Docker resource the host's", () => {
    const awsProvider = only(run, T.awsProvider);
    expect(inputs(awsProvider).region).toBe("eu-west-1");
    // Two Docker providers on the one host: the containers' and volumes', and the one
    // service images are pulled with (it logs in to the stack's ECR registry).
    const dockers = run.byType(T.dockerProvider);
    const docker = mainDocker(run);
    for (const d of dockers) {
      expect(inputs(d).host).toBe("ssh://ec2-user@panopticon-prod-docker");
      expect(d.dependencies).toEqual(
        expect.arrayContaining([only(run, T.instance).urn, only(run, T.attachment).urn]),
      );
    }
    for (const r of run.resources.filter((x) => x.custom && x.type.startsWith("aws:"))) {
      expect(r.provider.startsWith(`${awsProvider.urn}::`)).toBe(true);
    }
    for (const r of run.resources.filter((x) => x.custom && x.type.startsWith("docker:"))) {
      const allowed = r.type === IMAGE ? dockers : [docker];
      expect(allowed.some((d) => r.provider.startsWith(`${d.urn}::`))).toBe(true);
    }
  });

  test("pulumi destroy --exclude-protected removes only what holds no data", () => {
    const kept = keptByExcludeProtected(run.resources);
    const removed = run.resources.filter((r) => r.custom && !kept.has(r));
    // Every stateful resource is kept, and with it the host it lives on.
    for (const r of run.resources.filter((x) =>
      (STATEFUL_TYPES as readonly string[]).includes(x.type),
    ))
      expect(kept.has(r)).toBe(true);
    for (const t of [T.instance, T.attachment, T.rdsSubnets])
      expect(kept.has(only(run, t))).toBe(true);
    expect(kept.has(mainDocker(run))).toBe(true);
    // Backups keep running for the retained data, and the host stays manageable (SSM).
    for (const t of [T.dlm, T.efsBackup, T.mountTarget])
      expect(run.byType(t).every((r) => kept.has(r))).toBe(true);
    const ssm = run
      .byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .find((a) => a.name.endsWith("host-ssm"))!;
    expect(kept.has(ssm)).toBe(true);
    expect(new Set(removed.map((r) => r.type))).toEqual(
      new Set([
        CONTAINER,
        IMAGE,
        "docker:index/network:Network",
        "aws:kms/alias:Alias",
        // The ECR repositories stay (protected); their lifecycle rule, the host's pull grant
        // and the provider images are pulled with go, with the images.
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:iam/rolePolicy:RolePolicy",
        T.dockerProvider,
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        T.nat,
        "aws:ec2/eip:Eip",
        "aws:ec2/internetGateway:InternetGateway",
        T.subnet,
      ]),
    );
    // Of the subnets only the NAT's public one goes; what RDS, EFS and the host use stays.
    expect(removed.filter((r) => r.type === T.subnet).map((r) => r.name)).toEqual([
      "panopticon-aws-network-public",
    ]);
  });
});

// ---------------------------------------------------------------- variants of the config

describe("prod variants", () => {
  test("existing VPC: no network is created; RDS, EFS and the host use the configured subnets", async () => {
    const subnets = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"];
    const run = await prodRun({ vpc: { id: "vpc-0abc12345def67890", privateSubnetIds: subnets } });
    for (const t of [T.vpc, T.subnet, T.nat]) expect(run.byType(t)).toEqual([]);
    expect(inputs(only(run, T.rdsSubnets)).subnetIds).toEqual(subnets);
    expect(run.byType(T.mountTarget).map((m) => inputs(m).subnetId)).toEqual(subnets);
    expect(inputs(only(run, T.instance)).subnetId).toBe(subnets[0]);
    expect(inputs(only(run, T.ebs)).availabilityZone).toBe("eu-west-1a"); // getSubnet(subnets[0])
    for (const sg of run.byType(T.sg)) expect(inputs(sg).vpcId).toBe("vpc-0abc12345def67890");
    expect(PROD_RULES.statefulProtected(run.resources)).toEqual([]);
  }, 60_000);

  test("adopt: RDS, EFS, EBS and KMS are imported by id, ignoring only what AWS cannot read back", async () => {
    const adopt = {
      rdsInstanceIdentifier: "panopticon-prod-postgres",
      efsFileSystemId: "fs-0abc1234",
      ebsVolumeId: "vol-0abc12345def67890",
      kmsKeyId: "0a1b2c3d-1111-2222-3333-444455556666",
    };
    const run = await prodRun({ adopt });
    const rds = only(run, T.rds);
    expect(rds.importId).toBe(adopt.rdsInstanceIdentifier);
    expect(rds.ignoreChanges.sort()).toEqual([...RDS_ADOPT_IGNORE_CHANGES].sort());
    expect(only(run, T.efs).importId).toBe(adopt.efsFileSystemId);
    expect(only(run, T.ebs).importId).toBe(adopt.ebsVolumeId);
    expect(only(run, T.ebs).ignoreChanges).toEqual(["finalSnapshot"]);
    expect(only(run, T.kms).importId).toBe(adopt.kmsKeyId);
    // The user data mounts the adopted disk, and every safety rule still holds.
    expect(String(inputs(only(run, T.instance)).userData)).toContain("Store_vol0abc12345def67890");
    for (const rule of Object.values(PROD_RULES)) expect(rule(run.resources)).toEqual([]);
    // Without adopt keys nothing is imported (the prod stack file).
    const plain = await prodRun();
    for (const t of [T.rds, T.efs, T.ebs, T.kms]) expect(only(plain, t).importId).toBe("");
  }, 60_000);

  test("a configured postgresPassword secret becomes the RDS password and never appears in plain text", async () => {
    const secret = "Prod0Secret0From0Config0123";
    const run = await prodRun({}, { secrets: { postgresPassword: secret } });
    const rds = only(run, T.rds);
    expect(isSecretWrapper(rds.inputs.password)).toBe(true);
    expect(inputs(rds).password).toBe(secret);
    expect(run.byType("random:index/randomPassword:RandomPassword")).toEqual([]);
    expect(noPlainSecret(secret)(run.resources)).toEqual([]);
    expect(plainStrings(inputs(only(run, T.instance)))).not.toContain(secret);
  }, 60_000);

  test("knobs: Single-AZ, 7-day retention, pinned minor, pinned AMI, existing key, SSH from a range, no EFS, default docker host", async () => {
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    const run = await prodRun({
      rds: {
        multiAz: false,
        backupRetentionDays: 7,
        engineVersion: "16.4",
        allowMajorVersionUpgrade: true,
      },
      amiId: "ami-0fedcba9876543210",
      kmsKeyArn: keyArn,
      adminCidrs: ["10.20.0.0/16"],
      storage: { model_registry: "ebs" },
      dockerHost: undefined,
      dataMountPath: "/srv/data",
      instanceType: "m7g.large",
      ebsSnapshots: { time: "23:30", retain: 30 },
    });
    const rds = only(run, T.rds);
    expect(inputs(rds)).toMatchObject({
      multiAz: false,
      backupRetentionPeriod: 7,
      kmsKeyId: keyArn,
      allowMajorVersionUpgrade: true,
    });
    expect(rds.ignoreChanges).toEqual(["engineVersion"]);
    expect(run.byType(T.kms)).toEqual([]);
    const host = only(run, T.instance);
    expect(inputs(host).ami).toBe("ami-0fedcba9876543210");
    expect(host.ignoreChanges).toEqual([]);
    const hostSg = run.byType(T.sg).find((s) => s.name.endsWith("host-sg"))!;
    expect(inputs(hostSg).ingress).toEqual([
      expect.objectContaining({ fromPort: 22, toPort: 22, cidrBlocks: ["10.20.0.0/16"] }),
    ]);
    expect(run.byType(T.efs)).toEqual([]);
    expect(run.byType(VOLUME)).toEqual([]);
    const mounts = serviceContainers(run.resources).flatMap((c) => inputs(c).mounts as Json[]);
    expect(
      mounts.every((m) => m.type === "bind" && String(m.source).startsWith("/srv/data/prod/")),
    ).toBe(true);
    expect(String(inputs(host).userData)).toContain("RequiresMountsFor=/srv/data");
    expect(inputs(mainDocker(run)).host).toBe("ssh://ec2-user@10.42.1.10");
    const schedule = ((inputs(only(run, T.dlm)).policyDetails as Json).schedules as Json[])[0];
    expect(schedule).toMatchObject({ createRule: { times: "23:30" }, retainRule: { count: 30 } });
    for (const rule of Object.values(PROD_RULES)) expect(rule(run.resources)).toEqual([]);
  }, 60_000);
});

// ---------------------------------------------------------------- bad production config

describe("bad production config fails before any resource is registered", () => {
  const BAD: Array<[string, Json, Json, RegExp]> = [
    [
      "missing region",
      { region: undefined },
      {},
      /panopticon:aws\.region = \(missing\): expected an AWS region/,
    ],
    [
      "VPC without subnets",
      { vpc: { id: "vpc-0abc12345def67890" } },
      {},
      /panopticon:aws\.vpc\.privateSubnetIds = \(missing\): expected a list of at least two private subnet ids/,
    ],
    [
      "VPC with one subnet",
      { vpc: { id: "vpc-0abc12345def67890", privateSubnetIds: ["subnet-0abc12345def67890"] } },
      {},
      /panopticon:aws\.vpc\.privateSubnetIds = \["subnet-0abc12345def67890"\]: expected at least two private subnets/,
    ],
    [
      "VPC id missing",
      { vpc: { privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] } },
      {},
      /panopticon:aws\.vpc\.id = \(missing\): expected an id like vpc-/,
    ],
    [
      "unknown backend",
      { storage: { judge: "s3" } },
      {},
      /panopticon:aws\.storage\.judge = "s3": expected "efs" or "ebs"/,
    ],
    [
      "backend for an unknown data set",
      { storage: { chroma: "ebs" } },
      {},
      /panopticon:aws\.storage\.chroma = "ebs": no data set "chroma"/,
    ],
    [
      "retention below 7",
      { rds: { backupRetentionDays: 3 } },
      {},
      /panopticon:aws\.rds\.backupRetentionDays = 3: expected at least 7 days of backups/,
    ],
    [
      "retention above the RDS limit",
      { rds: { backupRetentionDays: 40 } },
      {},
      /panopticon:aws\.rds\.backupRetentionDays = 40: expected at most 35 days/,
    ],
    [
      "SSH from the world",
      { adminCidrs: ["0.0.0.0/0"] },
      {},
      /panopticon:aws\.adminCidrs\.0 = "0\.0\.0\.0\/0": must not open the host/,
    ],
    [
      "KMS alias instead of ARN",
      { kmsKeyArn: "alias/panopticon" },
      {},
      /panopticon:aws\.kmsKeyArn = "alias\/panopticon": expected a KMS key ARN/,
    ],
    [
      "adopting a key while naming another",
      {
        kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        adopt: { kmsKeyId: "0a1b2c3d-1111-2222-3333-444455556666" },
      },
      {},
      /panopticon:aws\.adopt\.kmsKeyId = "0a1b2c3d-1111-2222-3333-444455556666": cannot adopt a key/,
    ],
    [
      "adopting another stack's database",
      { adopt: { rdsInstanceIdentifier: "panopticon-dev-postgres" } },
      {},
      /panopticon:aws\.adopt\.rdsInstanceIdentifier = "panopticon-dev-postgres": expected this stack's instance "panopticon-prod-postgres"/,
    ],
    [
      "bad EBS id to adopt",
      { adopt: { ebsVolumeId: "my-volume" } },
      {},
      /panopticon:aws\.adopt\.ebsVolumeId = "my-volume": expected an id like vol-/,
    ],
    [
      "protect turned off",
      {},
      { "panopticon:protect": false },
      /panopticon:protect = false: AWS stacks always protect/,
    ],
    [
      "storageMode on AWS",
      {},
      { "panopticon:storageMode": "bind" },
      /panopticon:storageMode = "bind": applies to local stacks only/,
    ],
    [
      "no aws block",
      {},
      { "panopticon:aws": undefined },
      /panopticon:aws = \(missing\): expected the aws settings/,
    ],
  ];

  test.each(BAD)("%s", async (_label, patch, top, message) => {
    const run = await runProgram({ stack: "prod", config: prodConfig(patch, top) });
    expect(run.error?.name).toBe("ConfigError");
    expect(run.error?.message).toMatch(message);
    expect(run.error?.message).toContain('stack "prod" (nothing was created or changed)');
    expect(run.resources).toEqual([]);
  });
});

// ---------------------------------------------------------------- pure helpers

describe("helpers", () => {
  test("nvmeDevicePath: the by-id path of a volume id; anything else is refused", () => {
    expect(nvmeDevicePath("vol-0abc12345def67890")).toBe(
      "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc12345def67890",
    );
    expect(() => nvmeDevicePath("/dev/nvme1n1")).toThrow(/expected an EBS volume id/);
  });

  test("hostUserData formats only when blkid finds nothing, before Docker starts", () => {
    const s = hostUserData("vol-0abc12345def67890", "/mnt/x");
    expect(s.startsWith("#!/bin/bash\nset -euo pipefail\n")).toBe(true);
    const mkfs = s.indexOf("mkfs.xfs");
    expect(s.lastIndexOf("blkid -p", mkfs)).toBeGreaterThan(0);
    expect(s.indexOf("systemctl enable --now docker")).toBeGreaterThan(s.indexOf("mount /mnt/x"));
    expect(s).not.toMatch(/169\.254\.169\.254|TOKEN/);
  });

  test("efsDriverOpts: AWS's EFS options on the data set's directory", async () => {
    const location = efsLocation(
      "fs-1.efs.eu-west-1.amazonaws.com",
      efsDataSetPath("prod", "models"),
    );
    expect(location).toEqual({ address: "fs-1.efs.eu-west-1.amazonaws.com", path: "/prod/models" });
    const o = efsDriverOpts(location);
    expect(o.type).toBe("nfs");
    expect(o.device).toBe(":/prod/models");
    const opts = await new Promise<string>((r) =>
      (o.o as { apply: (f: (s: string) => void) => void }).apply(r),
    );
    expect(opts).toBe(
      "addr=fs-1.efs.eu-west-1.amazonaws.com,nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport",
    );
    // A relative directory is no EfsLocation: `efsLocation("x", "prod/models")` does not compile.
    expect(efsDriverOpts({ address: "x", path: "/" }).device).toBe(":/");
  });

  test("subnetCidrs: consecutive /+4 blocks inside the VPC", () => {
    expect(subnetCidrs("10.42.0.0/16", 3)).toEqual([
      "10.42.0.0/20",
      "10.42.16.0/20",
      "10.42.32.0/20",
    ]);
    expect(subnetCidrs("192.168.4.0/22", 2)).toEqual(["192.168.4.0/26", "192.168.4.64/26"]);
    expect(() => subnetCidrs("10.0.0.0/26", 3)).toThrow(/cannot split/);
  });
});
