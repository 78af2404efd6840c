import * as path from "path";
import { lifecyclePolicy } from "../components/aws/image-repositories";
import { ProgramRun, RecordedResource, runProgram, promotedStackFile } from "./support/harness";
import { CONTAINER, IMAGE, VOLUME } from "./support/rules";
import {
  BUILD,
  buildsSafe,
  ECR_LIFECYCLE,
  ECR_REPO,
  ecrLifecycleKeeps,
  ecrRepositoriesSafe,
  hostPullsOnly,
  pushedDigestsRun,
  ROLE_POLICY,
} from "./support/image-rules";
import { CONTRACT_APPS } from "./support/compose-contract";

/*
 * ECR on an AWS stack, under mocks: one repository per service compose builds,
 * whether the stack builds (appSource) or runs promoted digests (prod as committed).
 * Each setting is checked on the real run and caught on a broken twin.
 */

jest.setTimeout(60_000);

const SOURCE = path.join(__dirname, "fixtures", "panopticon-src");
const KMS_ARN = /^arn:aws:kms:eu-west-1:123456789012:key\/[0-9a-f-]{36}$/;
const APPS = CONTRACT_APPS;
const PROD = (
  promotedStackFile("Pulumi.prod.yaml") as {
    config: Record<string, unknown>;
  }
).config;

/** Prod as committed, or prod building from the fixture checkout (no pinned images). */
async function prod(build: boolean, extra: Record<string, unknown> = {}): Promise<ProgramRun> {
  const config: Record<string, unknown> = { ...PROD, ...extra };
  if (build) {
    delete config["panopticon:services"];
    config["panopticon:appSource"] = SOURCE;
  }
  const run = await runProgram({ stack: "prod", config });
  if (run.error) throw run.error;
  return run;
}

const HOST_ROLE = "panopticon-prod-docker-host";
const twin = (
  resources: readonly RecordedResource[],
  pick: (r: RecordedResource) => boolean,
  change: (r: RecordedResource) => Partial<RecordedResource>,
) => {
  let done = false;
  return resources.map((r) => {
    if (done || !pick(r)) return r;
    done = true;
    const c = change(r);
    return { ...r, ...c, plainInputs: { ...r.plainInputs, ...(c.plainInputs ?? {}) } };
  });
};

describe("an AWS stack that builds: pushed to its own ECR repositories", () => {
  let run: ProgramRun;
  beforeAll(async () => (run = await prod(true)));

  it("one repository per built service, named panopticon/<stack>/<service>", () => {
    expect(
      run
        .byType(ECR_REPO)
        .map((r) => r.plainInputs.name)
        .sort(),
    ).toEqual(APPS.map((a) => `panopticon/prod/${a}`));
    // RDS replaces the postgres container on AWS: nothing to build or store for it.
    expect(run.byType(BUILD)).toHaveLength(APPS.length);
  });

  it("builds push to the repository by digest (deployer's docker login); containers run the digest", () => {
    for (const b of run.byType(BUILD)) {
      const exp = (b.plainInputs.exports as Array<{ registry: { names: string[] } }>)[0];
      expect(exp.registry.names[0]).toMatch(
        /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/panopticon\/prod\//,
      );
    }
    expect(buildsSafe()(run.resources)).toEqual([]);
    expect(
      pushedDigestsRun("123456789012.dkr.ecr.eu-west-1.amazonaws.com/panopticon/prod")(
        run.resources,
      ),
    ).toEqual([]);
  });

  it("images are pulled through their own provider, which logs in to the ECR registry; containers keep theirs", () => {
    const providers = run.byType("pulumi:providers:docker");
    const images = providers.find((p) => p.name === "panopticon-aws-docker-images")!;
    const main = providers.find((p) => p.name === "panopticon-aws-docker")!;
    expect(JSON.parse(String(images.plainInputs.registryAuth))).toEqual([
      { address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com" },
    ]);
    expect(main.plainInputs.registryAuth).toBeUndefined();
    // The service images; the one-shot initialisers' image stays with the containers' provider.
    for (const img of run.byType(IMAGE).filter((i) => !i.name.endsWith("-init-image")))
      expect(img.provider.startsWith(`${images.urn}::`)).toBe(true);
    for (const c of run.byType(CONTAINER))
      expect(c.provider.startsWith(`${main.urn}::`)).toBe(true);
    for (const v of run.byType(VOLUME)) expect(v.provider.startsWith(`${main.urn}::`)).toBe(true);
  });

  it("immutable tags, scan on push, the stack's KMS key, protected and retained", () => {
    expect(ecrRepositoriesSafe(KMS_ARN)(run.resources)).toEqual([]);
  });

  it.each<[string, Partial<RecordedResource>, RegExp]>([
    [
      "mutable tags",
      { plainInputs: { imageTagMutability: "MUTABLE" } },
      /imageTagMutability "MUTABLE"/,
    ],
    [
      "no scan on push",
      { plainInputs: { imageScanningConfiguration: { scanOnPush: false } } },
      /scanOnPush is not true/,
    ],
    [
      "AES256 instead of the KMS key",
      { plainInputs: { encryptionConfigurations: [{ encryptionType: "AES256" }] } },
      /not encrypted with the stack's KMS key/,
    ],
    [
      "another key",
      {
        plainInputs: {
          encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: "alias/aws/ecr" }],
        },
      },
      /not encrypted with the stack's KMS key/,
    ],
    ["forceDelete", { plainInputs: { forceDelete: true } }, /forceDelete would delete its images/],
    ["unprotected", { protect: false }, /not protected/],
    ["not retained", { retainOnDelete: false }, /not retained on delete/],
  ])("caught: a repository with %s", (_what, change, msg) => {
    const broken = twin(
      run.resources,
      (r) => r.type === ECR_REPO,
      () => change,
    );
    expect(ecrRepositoriesSafe(KMS_ARN)(broken).join("\n")).toMatch(msg);
  });

  it("a lifecycle policy per repository keeps the last N releases (config)", async () => {
    expect(ecrLifecycleKeeps(30)(run.resources)).toEqual([]);
    const five = await prod(true, { "panopticon:imageReleasesKept": 5 });
    expect(ecrLifecycleKeeps(5)(five.resources)).toEqual([]);
    expect(ecrLifecycleKeeps(30)(five.resources)).toHaveLength(APPS.length);
    const missing = run.resources.filter(
      (r) => !(r.type === ECR_LIFECYCLE && r.name.includes("main-app")),
    );
    expect(ecrLifecycleKeeps(30)(missing).join("\n")).toMatch(/main-app: no lifecycle policy/);
    const tagged = twin(
      run.resources,
      (r) => r.type === ECR_LIFECYCLE,
      () => ({
        plainInputs: {
          policy: lifecyclePolicy(30).replace('"any"', '"tagged"'),
        },
      }),
    );
    expect(ecrLifecycleKeeps(30)(tagged).join("\n")).toMatch(/expected the last 30 images/);
  });

  it("the Docker host's role may pull from these repositories and nothing more", () => {
    expect(hostPullsOnly(HOST_ROLE)(run.resources)).toEqual([]);
    const grant = run.byType(ROLE_POLICY).find((r) => r.plainInputs.role === HOST_ROLE)!;
    const doc = JSON.parse(String(grant.plainInputs.policy));
    const push = structuredClone(doc);
    push.Statement[1].Action.push("ecr:PutImage");
    const wide = structuredClone(doc);
    wide.Statement[1].Resource = "*";
    for (const [policy, msg] of [
      [push, /grants ecr:PutImage, which is more than pulling/],
      [wide, /pull on \*, not one of the stack's repositories/],
    ] as const) {
      const broken = twin(
        run.resources,
        (r) => r === grant,
        () => ({
          plainInputs: { policy: JSON.stringify(policy) },
        }),
      );
      expect(hostPullsOnly(HOST_ROLE)(broken).join("\n")).toMatch(msg);
    }
    const none = run.resources.filter((r) => r !== grant);
    expect(hostPullsOnly(HOST_ROLE)(none)).toEqual(["the host role has no pull grant"]);
  });
});

describe("prod as committed: runs promoted digests, builds nothing", () => {
  let run: ProgramRun;
  beforeAll(async () => (run = await prod(false)));

  it("keeps the repositories (promoted digests live there) and builds nothing", () => {
    expect(run.byType(BUILD)).toEqual([]);
    expect(run.byType(ECR_REPO)).toHaveLength(APPS.length);
    expect(ecrRepositoriesSafe(KMS_ARN)(run.resources)).toEqual([]);
    expect(hostPullsOnly(HOST_ROLE)(run.resources)).toEqual([]);
    const urls = (run.outputs.aws as { imageRepositories: Record<string, string> })
      .imageRepositories;
    expect(urls["query-storage"]).toBe(
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/panopticon/prod/query-storage",
    );
  });

  it("panopticon:registry is refused on AWS stacks", async () => {
    const r = await runProgram({
      stack: "prod",
      config: { ...PROD, "panopticon:registry": "ghcr.io/acme/panopticon" },
    });
    expect(r.error?.message).toMatch(
      /panopticon:registry = "ghcr\.io\/acme\/panopticon": AWS stacks push to their own ECR repositories/,
    );
    expect(r.resources).toEqual([]);
  });
});

describe("the ECS runtime", () => {
  const ECS = (
    promotedStackFile("Pulumi.prod-ecs.yaml") as {
      config: Record<string, unknown>;
    }
  ).config;

  it("keeps one repository per service: its own, none twice", async () => {
    const run = await runProgram({ stack: "prod", config: ECS });
    if (run.error) throw run.error;
    const names = run.byType(ECR_REPO).map((r) => String(r.plainInputs.name));
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
  });

  it("refuses appSource: it runs prebuilt images only", async () => {
    const config: Record<string, unknown> = { ...ECS, "panopticon:appSource": SOURCE };
    delete config["panopticon:services"];
    const r = await runProgram({ stack: "prod", config });
    expect(r.error?.message).toMatch(
      /panopticon:appSource = ".*": the ECS runtime \(panopticon:aws\.runtime = "ecs"\) runs prebuilt images only/,
    );
    expect(r.resources).toEqual([]);
  });
});
