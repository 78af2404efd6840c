import { cliStackConfig, RecordedResource, runProgram } from "./support/harness";
import { LOCAL_RULES, noPlainSecret, stackScopedNames } from "./support/rules";

/*
 * Each rule must catch a violation: the compliant case is the real program run,
 * the non-compliant case is the same recording with one thing broken.
 */

let base: RecordedResource[];
beforeAll(async () => {
  const run = await runProgram({
    stack: "dev",
    config: cliStackConfig("dev"),
    secrets: { postgresPassword: "pw-rules-123456" },
  });
  if (run.error) throw run.error;
  base = run.resources;
});

function broken(
  pick: (r: RecordedResource) => boolean,
  change: (r: RecordedResource) => Partial<RecordedResource>,
): RecordedResource[] {
  let done = false;
  return base.map((r) => {
    if (done || !pick(r)) return r;
    done = true;
    const c = change(r);
    return { ...r, ...c, plainInputs: { ...r.plainInputs, ...(c.plainInputs ?? {}) } };
  });
}

const isVolume = (r: RecordedResource) => r.type === "docker:index/volume:Volume";
const isPg = (r: RecordedResource) => r.plainInputs.name === "panopticon-dev-postgres";

test.each<[string, keyof typeof LOCAL_RULES, () => RecordedResource[], RegExp]>([
  [
    "a volume without retainOnDelete",
    "volumesRetained",
    () => broken(isVolume, () => ({ retainOnDelete: false })),
    /retainOnDelete is not set/,
  ],
  [
    "a volume whose labels would replace it",
    "volumesRetained",
    () => broken(isVolume, () => ({ ignoreChanges: ["driverOpts"] })),
    /labels changes would replace/,
  ],
  [
    "a port on all interfaces",
    "loopbackPorts",
    () =>
      broken(isPg, (r) => ({
        plainInputs: {
          ...r.plainInputs,
          ports: [{ internal: 5432, external: 5432, ip: "0.0.0.0" }],
        },
      })),
    /published on 0\.0\.0\.0/,
  ],
  [
    "a port without ip",
    "loopbackPorts",
    () =>
      broken(isPg, (r) => ({
        plainInputs: { ...r.plainInputs, ports: [{ internal: 5432, external: 5432 }] },
      })),
    /all interfaces/,
  ],
  [
    "a 10 s stop timeout",
    "wellRunContainers",
    () => broken(isPg, (r) => ({ plainInputs: { ...r.plainInputs, stopTimeout: 10 } })),
    /stopTimeout 10 < 60/,
  ],
  [
    "an image by tag",
    "wellRunContainers",
    () => broken(isPg, (r) => ({ plainInputs: { ...r.plainInputs, image: "postgres:16" } })),
    /not a RemoteImage.imageId/,
  ],
  [
    "unsorted env",
    "wellRunContainers",
    () => broken(isPg, (r) => ({ plainInputs: { ...r.plainInputs, envs: ["B=1", "A=2"] } })),
    /deterministic order/,
  ],
  [
    "healthcheck not in replaceOnChanges",
    "wellRunContainers",
    () => broken(isPg, () => ({ replaceOnChanges: [] })),
    /never be applied/,
  ],
  [
    "an image deleted on destroy",
    "imagesKeptLocally",
    () =>
      broken(
        (r) => r.type === "docker:index/remoteImage:RemoteImage",
        (r) => ({ plainInputs: { ...r.plainInputs, keepLocally: false } }),
      ),
    /keepLocally is not true/,
  ],
])("%s is caught (and the real run is clean)", (_label, rule, make, message) => {
  expect(LOCAL_RULES[rule](base)).toEqual([]);
  const violations = LOCAL_RULES[rule](make());
  expect(violations).toHaveLength(1);
  expect(violations[0]).toMatch(message);
});

test("a stackless physical name is caught", () => {
  expect(stackScopedNames("dev")(base)).toEqual([]);
  const bad = broken(isVolume, (r) => ({
    plainInputs: { ...r.plainInputs, name: "postgres_data" },
  }));
  expect(stackScopedNames("dev")(bad)).toEqual([
    expect.stringMatching(/"postgres_data" lacks the stack/),
  ]);
});

test("a plain-text secret is caught, a wrapped one is not", () => {
  expect(noPlainSecret("pw-rules-123456")(base)).toEqual([]);
  const bad = broken(isPg, (r) => ({
    inputs: { ...r.inputs, envs: ["POSTGRES_PASSWORD=pw-rules-123456"] },
  }));
  expect(noPlainSecret("pw-rules-123456")(bad)).toEqual([expect.stringMatching(/plain text/)]);
});
