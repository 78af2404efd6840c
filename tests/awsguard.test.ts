import { cliStackConfig, ProgramRun, RecordedResource, runProgram } from "./support/harness";
import { runAwsGuard } from "./support/awsguard";

/*
 * Pulumi's AWSGuard policies (tests/support/awsguard.ts) over both AWS runtimes of prod:
 * none on the ECS stack, and on the Docker-host stack only the documented
 * exception below (docs/ecs.md, AWSGuard). Broken twins show the policies look.
 */

/**
 * The Docker host's deliberate exception. `ec2-volume-inuse` wants EBS volumes inline
 * on the instance (`ebsBlockDevices`) and deleted with it; the data disk is a separate,
 * protected volume attached by a VolumeAttachment precisely so that replacing or
 * terminating the host never deletes the data.
 */
export const DOCKER_HOST_EXCEPTIONS = [
  "ec2-volume-inuse on panopticon-aws-host-instance: EC2 instance must have an EBS volume attached.",
];

const SECRETS = { postgresPassword: "guardTestPassw0rd123456" };
type Json = Record<string, unknown>;
const doctor = (run: ProgramRun, type: string, patch: Json): RecordedResource[] => {
  const target = run.byType(type)[0];
  return run.resources.map((r) =>
    r === target ? ({ ...r, plainInputs: { ...r.plainInputs, ...patch } } as RecordedResource) : r,
  );
};

describe.each([
  { stack: "prod-ecs", exceptions: [] as string[] },
  { stack: "prod", exceptions: DOCKER_HOST_EXCEPTIONS },
])("AWSGuard over Pulumi.$stack.yaml", ({ stack, exceptions }) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ stack: "prod", config: cliStackConfig(stack), secrets: SECRETS });
    if (run.error) throw run.error;
  }, 60_000);

  test("violations are exactly the documented exceptions", async () => {
    expect((await runAwsGuard(run.resources)).violations).toEqual(exceptions);
  });

  test("the policies saw our resources (not vacuous)", async () => {
    const { applied } = await runAwsGuard(run.resources);
    expect(applied).toEqual(
      expect.arrayContaining([
        "cmk-backing-key-rotation-enabled",
        "efs-encrypted",
        "rds-instance-backup-enabled",
        "rds-instance-multi-az-enabled",
        "rds-instance-public-access",
        "rds-storage-encrypted",
      ]),
    );
    if (stack === "prod-ecs") {
      expect(applied).toEqual(
        expect.arrayContaining([
          "alb-http-to-https-redirection",
          "elb-deletion-protection-enabled",
          "elb-logging-enabled",
          "s3-bucket-logging-enabled",
        ]),
      );
    } else {
      expect(applied).toContain("ec2-instance-detailed-monitoring-enabled");
    }
  });

  test("broken twins are caught", async () => {
    const names = async (resources: RecordedResource[]) =>
      (await runAwsGuard(resources)).violations.map((v) => v.split(" on ")[0]);
    expect(await names(doctor(run, "aws:rds/instance:Instance", { multiAz: false }))).toContain(
      "rds-instance-multi-az-enabled",
    );
    expect(await names(doctor(run, "aws:kms/key:Key", { enableKeyRotation: false }))).toContain(
      "cmk-backing-key-rotation-enabled",
    );
    if (stack === "prod-ecs") {
      const lb = "aws:lb/loadBalancer:LoadBalancer";
      expect(await names(doctor(run, lb, { accessLogs: { enabled: false } }))).toContain(
        "elb-logging-enabled",
      );
      expect(await names(doctor(run, lb, { enableDeletionProtection: false }))).toContain(
        "elb-deletion-protection-enabled",
      );
      expect(
        await names(
          doctor(run, "aws:lb/listener:Listener", {
            protocol: "HTTP",
            defaultActions: [{ type: "forward" }],
          }),
        ),
      ).toContain("alb-http-to-https-redirection");
      expect(await names(doctor(run, "aws:s3/bucket:Bucket", { logging: undefined }))).toContain(
        "s3-bucket-logging-enabled",
      );
    } else {
      expect(
        await names(doctor(run, "aws:ec2/instance:Instance", { monitoring: false })),
      ).toContain("ec2-instance-detailed-monitoring-enabled");
    }
  });
});
