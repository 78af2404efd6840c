import * as fs from "fs";
import * as path from "path";
import { cliStackConfig, RecordedResource, runProgram } from "./support/harness";
import {
  compareRuns,
  engineView,
  movedStateful,
  Registration,
  registrations,
} from "./support/registrations";

/*
 * Moving code must not move infrastructure. Each committed stack's registrations were
 * recorded before the restructuring (tests/fixtures/registrations/, written by
 * `RECORD_REGISTRATIONS=1 npx jest registration-identity`); a run now must register the
 * same resources with the same type, name, parent, inputs and options. A resource may
 * change its URN only through an alias naming the old one, and only if it is listed in
 * MOVES below; a stateful resource may not change its URN at all.
 */

const SECRETS = {
  postgresPassword: "identityTestPassw0rd123",
  apiKey: "identity-api-key-1234",
  openaiApiKey: "sk-identity-openai-5678",
};
const RECORDS = path.join(__dirname, "fixtures", "registrations");

const URN = "urn:pulumi:prod::panopticon::";
const ENV = "panopticon:aws:Environment";
const HOST_RUNTIME = "panopticon:docker-host:Runtime";

/** `before → after` for a resource that moved from one parent chain to another. */
const move = (from: string, to: string, rest: string) => ({
  [`${URN}${from}$${rest}`]: `${URN}${to}$${rest}`,
});
const HOST = "panopticon:aws:DockerHost";
const ECS_SERVICE = "panopticon:ecs:Runtime$panopticon:ecs:Service";
const ECS_TASK = `${ECS_SERVICE}$panopticon:ecs:TaskDefinition`;
/** The ECS services of Pulumi.prod-ecs.yaml; model-registry alone keeps files on EFS. */
const ECS_SERVICES = [
  "evaluation-storage",
  "judge-service",
  "main-app",
  "model-registry",
  "query-storage",
  "visualization-service",
];

/**
 * What one ECS service's task-definition component (components/runtime/ecs/
 * task-definition.ts) took over from the service: its log group, roles, role policies,
 * EFS access point and task definition, each reached by an alias to its old parent.
 */
function taskMoves(service: string): Record<string, string> {
  const own = (type: string, suffix: string) =>
    move(ECS_SERVICE, ECS_TASK, `${type}::panopticon-${service}-${suffix}`);
  return {
    ...own("aws:cloudwatch/logGroup:LogGroup", "logs"),
    ...own("aws:iam/role:Role", "execution"),
    ...own("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "execution-managed"),
    // Every prod-ecs service reads a secret (API_KEY, the database URL).
    ...own("aws:iam/rolePolicy:RolePolicy", "execution-secrets"),
    ...own("aws:iam/role:Role", "task"),
    ...own("aws:ecs/taskDefinition:TaskDefinition", "task-definition"),
    ...(service === "model-registry"
      ? {
          ...own("aws:efs/accessPoint:AccessPoint", "access-point"),
          ...own("aws:iam/rolePolicy:RolePolicy", "task-efs"),
        }
      : {}),
  };
}

/**
 * The deliberate moves: before-URN → after-URN (the engine's URNs, every ancestor's type
 * chained), each reached by an alias: the resource's own, or one it inherits from its
 * parent's (the engine gives a child its parent's aliases).
 */
const MOVES: Record<string, Record<string, string>> = {
  dev: {},
  // The Docker host and its providers belong to the docker-host runtime now
  // (components/runtime/docker-host/runtime.ts), no longer to the shared AWS layer;
  // the host's own resources move with it. The EBS data disk stays where it was.
  prod: {
    ...move(ENV, HOST_RUNTIME, `${HOST}::panopticon-aws-host`),
    ...move(ENV, HOST_RUNTIME, "pulumi:providers:docker::panopticon-aws-docker"),
    ...move(ENV, HOST_RUNTIME, "pulumi:providers:docker::panopticon-aws-docker-images"),
    ...move(ENV, HOST_RUNTIME, `${HOST}$aws:ec2/instance:Instance::panopticon-aws-host-instance`),
    ...move(
      ENV,
      HOST_RUNTIME,
      `${HOST}$aws:ec2/securityGroup:SecurityGroup::panopticon-aws-host-sg`,
    ),
    ...move(
      ENV,
      HOST_RUNTIME,
      `${HOST}$aws:ec2/volumeAttachment:VolumeAttachment::panopticon-aws-host-data`,
    ),
    ...move(
      ENV,
      HOST_RUNTIME,
      `${HOST}$aws:iam/instanceProfile:InstanceProfile::panopticon-aws-host-profile`,
    ),
    ...move(ENV, HOST_RUNTIME, `${HOST}$aws:iam/role:Role::panopticon-aws-host-role`),
    ...move(
      ENV,
      HOST_RUNTIME,
      `${HOST}$aws:iam/rolePolicyAttachment:RolePolicyAttachment::panopticon-aws-host-ssm`,
    ),
  },
  "prod-ecs": Object.assign({}, ...ECS_SERVICES.map(taskMoves)),
};

/**
 * Components the restructuring adds: they hold nothing and create nothing in the
 * cloud, but become the parent of what moved under them.
 */
const ADDED: Record<string, string[]> = {
  dev: [],
  prod: [`${URN}${HOST_RUNTIME}::panopticon`],
  // One task-definition component per ECS service, a child of the service.
  "prod-ecs": ECS_SERVICES.map((service) => `${URN}${ECS_TASK}::panopticon-${service}`),
};

/** The differences less the listed new components (each must be a component). */
function unlisted(record: string, resources: RecordedResource[], differences: string[]): string[] {
  const added = new Set(ADDED[record]);
  // ADDED names engine URNs (every ancestor's type chained), as the differences do.
  const now = engineView(registrations(resources));
  for (const urn of added) {
    expect(now.find((r) => r.urn === urn)).toMatchObject({ custom: false, inputs: {} });
  }
  return differences.filter((d) => {
    const m = /^new: (\S+) was not registered before$/.exec(d);
    return m === null || !added.has(m[1]);
  });
}

const STACKS = [
  { record: "dev", stack: "dev", file: "dev" },
  { record: "prod", stack: "prod", file: "prod" },
  // Pulumi.prod-ecs.yaml runs as a stack named prod (its stack file is the variant).
  { record: "prod-ecs", stack: "prod", file: "prod-ecs" },
];

async function run(stack: string, file: string): Promise<RecordedResource[]> {
  const r = await runProgram({ stack, config: cliStackConfig(file), secrets: SECRETS });
  if (r.error) throw r.error;
  return r.resources;
}

describe.each(STACKS)("stack $record registers what it registered before", (s) => {
  const recordFile = path.join(RECORDS, `${s.record}.json`);

  test("same resources, inputs and options; moves only through aliases", async () => {
    const resources = await run(s.stack, s.file);
    if (process.env.RECORD_REGISTRATIONS === "1") {
      fs.mkdirSync(RECORDS, { recursive: true });
      fs.writeFileSync(recordFile, JSON.stringify(registrations(resources), null, 1) + "\n");
    }
    const before = JSON.parse(fs.readFileSync(recordFile, "utf8")) as Registration[];
    expect(before.length).toBeGreaterThan(10);
    const { moved, differences } = compareRuns(before, resources);
    expect(unlisted(s.record, resources, differences)).toEqual([]);
    expect(moved).toEqual(MOVES[s.record]);
    expect(movedStateful(moved)).toEqual([]);
  }, 60_000);
});

describe("the comparison itself", () => {
  let resources: RecordedResource[];
  let before: Registration[];
  beforeAll(async () => {
    resources = await run("dev", "dev");
    before = registrations(resources);
  }, 60_000);

  test("an identical run has no differences and no moves", () => {
    expect(compareRuns(before, resources)).toEqual({ moved: {}, differences: [] });
  });

  test("a changed input is a difference", () => {
    const doctored = resources.map((r, i) =>
      i === 0 ? { ...r, inputs: { ...r.inputs, extra: "x" } } : r,
    );
    expect(compareRuns(before, doctored).differences).toEqual([
      expect.stringContaining(": inputs was"),
    ]);
  });

  test("a dropped retainOnDelete flag is a difference", () => {
    const i = resources.findIndex((r) => r.retainOnDelete);
    expect(i).toBeGreaterThanOrEqual(0);
    const doctored = resources.map((r, j) => (j === i ? { ...r, retainOnDelete: false } : r));
    expect(compareRuns(before, doctored).differences).toEqual([
      expect.stringMatching(
        new RegExp(`::${resources[i].name}: retainOnDelete was true, is false$`),
      ),
    ]);
  });

  test("a renamed resource without an alias is gone and new; with one it is moved", () => {
    const i = resources.findIndex((r) => r.custom && r.parent);
    const r = resources[i];
    const urn = r.urn.replace(/::([^:]*)$/, "::$1-moved");
    // What a run with the rename would send: the new URN wherever the old one was referred to.
    const ref = (u: string) => (u === r.urn ? urn : u);
    const refs = (x: RecordedResource) => ({
      ...x,
      parent: ref(x.parent),
      dependencies: x.dependencies.map(ref),
    });
    const renamed = { ...r, name: `${r.name}-moved`, urn };
    const without = resources.map((x, j) => refs(j === i ? renamed : x));
    const differences = compareRuns(before, without).differences;
    expect(differences[0]).toBe(`gone: ${r.urn} is not registered and no alias names it`);
    expect(differences).toContain(`new: ${urn} was not registered before`);
    const withAlias = resources.map((x, j) =>
      refs(j === i ? { ...renamed, aliases: [{ name: r.name }] } : x),
    );
    expect(compareRuns(before, withAlias)).toEqual({ moved: { [r.urn]: urn }, differences: [] });
  });

  test("a resource under another parent is gone and new without an alias, moved with one", () => {
    const i = resources.findIndex((r) => r.custom && r.parent);
    const r = resources[i];
    const parentType = r.parent.split("::")[2].split("$").pop();
    const other = resources.find((x) => !x.custom && x.parent && x.type !== parentType)!;
    const reparented = resources.map((x, j) => (j === i ? { ...x, parent: other.urn } : x));
    const differences = compareRuns(before, reparented).differences;
    expect(differences).toContainEqual(
      expect.stringMatching(new RegExp(`^gone: \\S+::${r.name} is not registered`)),
    );
    expect(differences).toContainEqual(expect.stringMatching(/^new: /));
    const aliased = resources.map((x, j) =>
      j === i ? { ...x, parent: other.urn, aliases: [{ parentUrn: r.parent }] } : x,
    );
    const { moved, differences: none } = compareRuns(before, aliased);
    expect(none).toEqual([]);
    expect(Object.keys(moved)).toEqual([expect.stringMatching(new RegExp(`::${r.name}$`))]);
  });

  test("a component moved under another parent takes its children along (inherited aliases)", () => {
    const hasChildren = (x: RecordedResource) => resources.some((y) => y.parent === x.urn);
    const component = (x: RecordedResource) => !x.custom && x.type !== "pulumi:pulumi:Stack";
    // The last component with children: one below the top (a service's component).
    const c = resources.filter((x) => component(x) && hasChildren(x)).pop()!;
    const o = resources.find(
      (x) => component(x) && x.type !== c.type && x.urn !== c.parent && x.parent !== c.urn,
    )!;
    const oldParent = c.parent ? { parentUrn: c.parent } : { noParent: true };
    const move = (aliases: RecordedResource["aliases"]) =>
      resources.map((x) => (x === c ? { ...x, parent: o.urn, aliases } : x));
    const children = resources.filter((y) => y.parent === c.urn).length;
    expect(children).toBeGreaterThan(0);
    const withAlias = compareRuns(before, move([oldParent]));
    expect(withAlias.differences).toEqual([]);
    expect(Object.keys(withAlias.moved).length).toBeGreaterThanOrEqual(1 + children);
    const gone = compareRuns(before, move([])).differences.filter((d) => d.startsWith("gone:"));
    expect(gone.length).toBeGreaterThanOrEqual(1 + children);
  });

  test("a stateful resource that moves is named", () => {
    const volume = resources.find((r) => r.type === "docker:index/volume:Volume")!;
    expect(movedStateful({ [volume.urn]: `${volume.urn}-x` })).toEqual([volume.urn]);
    const network = resources.find((r) => r.type === "docker:index/network:Network");
    if (network) expect(movedStateful({ [network.urn]: `${network.urn}-x` })).toEqual([]);
  });
});
