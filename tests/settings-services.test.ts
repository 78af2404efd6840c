import {
  ConfigError,
  DataSetSettings,
  parseSettings,
  rawFromStackFile,
} from "../components/config/settings";
import { dataSetOf, Placement } from "../components/config/data-sets";
import { probedPort } from "../components/config/service-fields";
import { cycleProblem, startOrder } from "../components/config/start-order";
import { withAppImages } from "./support/app-images";
import { cliStackConfig, PROJECT_DIR } from "./support/harness";

/*
 * Rules of the config layer that hold between values: a healthcheck probes the port
 * its service listens on, the start order has no cycle (one walk for every reader),
 * and each data-set backend carries exactly the physical name it needs.
 */

const ctx = { stack: "dev", baseDir: "/proj" };

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseSettings(withAppImages(raw), ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

const service = (name: string, raw: Record<string, unknown>) =>
  parseSettings(withAppImages(raw), ctx).services.find((s) => s.name === name)!;

describe("the healthcheck follows the service's port", () => {
  test("the database's healthcheck probes the port config gives it", () => {
    const pg = service("postgres", { services: { postgres: { port: 5433 } } });
    expect(pg.port).toBe(5433);
    expect(pg.healthcheck.test.join(" ")).toMatch(/pg_isready .*-p 5433 /);
  });

  test("compose's healthcheck stays as compose wrote it while the port is compose's", () => {
    const app = service("main-app", {});
    expect(app.port).toBe(8000);
    expect(app.healthcheck.test).toEqual(["CMD", "curl", "-f", "http://localhost:8000/health"]);
  });

  test("a port override with a healthcheck that probes it is accepted", () => {
    const test = ["CMD", "curl", "-f", "http://localhost:9000/health"];
    const app = service("main-app", {
      services: { "main-app": { port: 9000, healthcheck: { test } } },
    });
    expect(app.port).toBe(9000);
    expect(app.healthcheck.test).toEqual(test);
  });

  test("a port override that compose's healthcheck does not follow is refused", () => {
    expect(problems({ services: { "main-app": { port: 9000 } } })).toEqual([
      `panopticon:services.main-app.port = 9000: panopticon:release.compose's healthcheck of main-app probes port 8000 (["CMD","curl","-f","http://localhost:8000/health"]): expected the port the healthcheck probes; set panopticon:services.main-app.healthcheck.test to probe 9000, or remove the port override`,
    ]);
  });

  test("restating compose's own port is no override", () => {
    expect(service("main-app", { services: { "main-app": { port: 8000 } } }).port).toBe(8000);
  });

  test("a healthcheck of config's own that misses the port is refused", () => {
    const test = ["CMD", "curl", "-f", "http://127.0.0.1:8080/health"];
    expect(problems({ services: { "main-app": { healthcheck: { test } } } })).toEqual([
      `panopticon:services.main-app.healthcheck.test = ${JSON.stringify(test)}: probes port 8080, but main-app listens on 8000: expected the healthcheck to probe port 8000`,
    ]);
  });

  test("probedPort reads the port of a probe inside the container only", () => {
    expect(probedPort(["CMD", "curl", "-f", "http://localhost:8000/health"])).toBe(8000);
    expect(probedPort(["CMD-SHELL", "wget -qO- http://127.0.0.1:9000/health || exit 1"])).toBe(
      9000,
    );
    expect(probedPort(["CMD", "curl", "-f", "http://localhost/health"])).toBeUndefined();
    expect(probedPort(["CMD", "curl", "-f", "http://query-storage:8000/health"])).toBeUndefined();
    expect(probedPort(["CMD-SHELL", "pg_isready -U postgres"])).toBeUndefined();
  });
});

describe("the start order", () => {
  test("dependencies first, ties by name; names no node has are not part of it", () => {
    expect(
      startOrder([
        { name: "c", dependsOn: ["a", "b"] },
        { name: "a", dependsOn: ["b", "gone"] },
        { name: "b", dependsOn: [] },
      ]),
    ).toEqual({ order: ["b", "a", "c"] });
  });

  test("a cycle is found from the name it comes back to", () => {
    const { cycle } = startOrder([
      { name: "a", dependsOn: ["b"] },
      { name: "b", dependsOn: ["c"] },
      { name: "c", dependsOn: ["b"] },
    ]);
    expect(cycle).toEqual(["b", "c", "b"]);
    expect(cycleProblem(cycle!)).toBe(
      "panopticon:services: dependsOn forms a cycle b -> c -> b: expected a start order (depends_on without cycles)",
    );
  });

  test("settings refuse a cycle in the start order's words", () => {
    const p = problems({ services: { postgres: { dependsOn: ["model-registry"] } } });
    expect(p).toEqual([
      "panopticon:services: dependsOn forms a cycle postgres -> model-registry -> postgres: expected a start order (depends_on without cycles)",
    ]);
  });

  test("an ECS stack, whose plan walks the same order, reports its cycle once", () => {
    const raw = rawFromStackFile(cliStackConfig("prod-ecs"));
    const services = { ...(raw.services as Record<string, object>) };
    services["main-app"] = { ...services["main-app"], dependsOn: ["query-storage"] };
    services["query-storage"] = { ...services["query-storage"], dependsOn: ["main-app"] };
    let refused: string[] = [];
    try {
      parseSettings({ ...raw, services }, { stack: "prod-ecs", baseDir: PROJECT_DIR });
    } catch (e) {
      refused = [...(e as ConfigError).problems];
    }
    expect(refused).toEqual([
      "panopticon:services: dependsOn forms a cycle query-storage -> main-app -> query-storage: expected a start order (depends_on without cycles)",
    ]);
  });
});

describe("each data-set backend carries the name it needs", () => {
  const data = {
    set: "judge",
    path: "/app/judge_service_data",
    persistEnv: "JUDGE_PERSIST_DIRECTORY",
    composeVolume: "panopticon_judge_data",
    bindDir: "judge_service",
    uid: 0,
    gid: 0,
  };
  const placement: Placement = {
    project: "panopticon",
    stack: "dev",
    baseDir: "/proj",
    environment: "local",
    storageMode: "volume",
    dataDir: "./data",
    awsBackends: { judge: "efs" },
  };
  const of = (p: Partial<Placement>) => dataSetOf("judge-service", data, { ...placement, ...p });

  test.each<[string, Partial<Placement>, Partial<DataSetSettings>]>([
    ["volume", {}, { volumeName: "panopticon-dev-judge-data", hostPath: undefined }],
    [
      "volume, adopted",
      { adoptComposeVolumes: true },
      { volumeName: "panopticon_judge_data", adopted: true },
    ],
    [
      "bind",
      { storageMode: "bind" },
      { hostPath: "/proj/data/judge_service", volumeName: undefined },
    ],
    ["efs", { environment: "aws" }, { volumeName: "panopticon-dev-judge-data" }],
    [
      "ebs",
      { environment: "aws", awsBackends: {} },
      { hostPath: "/mnt/panopticon-data/dev/judge_service", adopted: false },
    ],
  ])("%s", (backend, p, expected) => {
    const ds = of(p);
    expect(ds.backend).toBe(backend.split(",")[0]);
    expect(ds).toMatchObject(expected);
  });

  test("a variant without its name, or with the other's, does not compile", () => {
    const base = { key: "k", service: "s", mountPath: "/d", uid: 0, gid: 0, adopted: false };
    // @ts-expect-error: a volume data set needs its volume name
    const noName: DataSetSettings = { ...base, backend: "volume" };
    // @ts-expect-error: a bind data set has a host directory, not a volume
    const wrong: DataSetSettings = { ...base, backend: "bind", volumeName: "v", hostPath: "/x" };
    const ok: DataSetSettings = { ...base, backend: "ebs", hostPath: "/mnt/x" };
    expect([noName, wrong, ok].map((d) => d.backend)).toEqual(["volume", "bind", "ebs"]);
  });
});
