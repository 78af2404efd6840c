import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as Grpc from "@grpc/grpc-js";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../components/config/settings";
// gRPC and protobuf as the SDK resolves them (they are its dependencies, not ours).
const fromSdk = (id: string) =>
  require(require.resolve(id, { paths: [require.resolve("@pulumi/pulumi")] }));
const grpc = fromSdk("@grpc/grpc-js") as typeof Grpc;
// The SDK's generated gRPC stubs: the same services the Pulumi CLI serves to a program.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resourceRpc = require("@pulumi/pulumi/proto/resource_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resourcePb = require("@pulumi/pulumi/proto/resource_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const enginePb = require("@pulumi/pulumi/proto/engine_pb");
const emptyPb = fromSdk("google-protobuf/google/protobuf/empty_pb");

/*
 * A configuration refusal as the Pulumi CLI shows it. The program runs under the real
 * Node.js language-host entry point (@pulumi/pulumi/cmd/run), started the way the
 * nodejs plugin starts it for this project (Pulumi.yaml's nodeargs, --monitor/--engine
 * addresses, PULUMI_CONFIG), against a small in-process engine and resource monitor.
 * What the engine's Log receives is what the CLI prints under Diagnostics.
 */

const ROOT = path.resolve(__dirname, "..");
const RUN = require.resolve("@pulumi/pulumi/cmd/run");

interface Engine {
  readonly address: string;
  readonly logs: { severity: number; message: string }[];
  readonly registered: string[];
  close(): Promise<void>;
}

async function startEngine(): Promise<Engine> {
  const logs: { severity: number; message: string }[] = [];
  const registered: string[] = [];
  let root = "";
  const server = new grpc.Server();
  type Call = Grpc.ServerUnaryCall<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  type Done = Grpc.sendUnaryData<unknown>;
  server.addService(engineRpc.EngineService, {
    log: (call: Call, done: Done) => {
      logs.push({ severity: call.request.getSeverity(), message: call.request.getMessage() });
      done(null, new emptyPb.Empty());
    },
    getRootResource: (_call: Call, done: Done) =>
      done(null, new enginePb.GetRootResourceResponse().setUrn(root)),
    setRootResource: (call: Call, done: Done) => {
      root = call.request.getUrn();
      done(null, new enginePb.SetRootResourceResponse());
    },
  });
  server.addService(resourceRpc.ResourceMonitorService, {
    supportsFeature: (_call: Call, done: Done) =>
      done(null, new resourcePb.SupportsFeatureResponse().setHassupport(false)),
    registerResource: (call: Call, done: Done) => {
      const type: string = call.request.getType();
      const name: string = call.request.getName();
      registered.push(type);
      done(
        null,
        new resourcePb.RegisterResourceResponse().setUrn(
          `urn:pulumi:dev::panopticon::${type}::${name}`,
        ),
      );
    },
    registerResourceOutputs: (_call: Call, done: Done) => done(null, new emptyPb.Empty()),
    signalAndWaitForShutdown: (_call: Call, done: Done) => done(null, new emptyPb.Empty()),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    logs,
    registered,
    close: () => new Promise((r) => server.tryShutdown(() => r())),
  };
}

/** Runs the program (index.ts) for stack dev with `config` as the CLI would hand it over. */
async function runUnderLanguageHost(config: Record<string, string>, program = ".") {
  const engine = await startEngine();
  try {
    const child = spawn(
      process.execPath,
      [
        "--no-experimental-strip-types",
        "--require",
        "sucrase/register/ts",
        RUN,
        `--monitor=${engine.address}`,
        `--engine=${engine.address}`,
        "--project=panopticon",
        "--stack=dev",
        `--pwd=${ROOT}`,
        `--root-directory=${ROOT}`,
        program,
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          PULUMI_CONFIG: JSON.stringify(config),
          PULUMI_CONFIG_SECRET_KEYS: "[]",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    return { code, output, logs: [...engine.logs], registered: [...engine.registered] };
  } finally {
    await engine.close();
  }
}

const ERROR = enginePb.LogSeverity.ERROR;
/** A stack frame as V8 prints it (`    at fn (file:1:2)`). */
const FRAME = /^\s+at\s/m;

describe("a configuration refusal under the real language host", () => {
  it("is the message alone: no stack frames, no 'unhandled exception', exit 32 (already reported)", async () => {
    const r = await runUnderLanguageHost({
      "panopticon:storageMode": "nfs",
      "panopticon:services": JSON.stringify({ postgres: { hostPort: 70000 } }),
    });
    const errors = r.logs.filter((l) => l.severity === ERROR).map((l) => l.message);
    expect(errors).toEqual([
      [
        'Invalid configuration for stack "dev" (nothing was created or changed):',
        '  - panopticon:storageMode = "nfs": expected "volume" or "bind"',
        "  - panopticon:services.postgres.hostPort = 70000: expected an integer port between 1 and 65535",
      ].join("\n"),
    ]);
    for (const text of [...errors, r.output]) {
      expect(text).not.toMatch(FRAME);
      expect(text).not.toMatch(/unhandled exception|ConfigError|stackName|problems:/);
    }
    // Nothing but the root stack the host always registers first.
    expect(r.registered).toEqual(["pulumi:pulumi:Stack"]);
    // The language host's "already told the user" code: the CLI adds nothing of its own.
    expect(r.code).toBe(32);
  }, 60_000);

  it("its broken twin: the same refusal thrown as a plain Error gets the stack trace", async () => {
    // The same program and config, with the refusal re-thrown as a plain Error: the host
    // then prints "unhandled exception" and the frames, so the checks above can fail.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-refusal-"));
    const program = path.join(dir, "plain.js");
    fs.writeFileSync(
      program,
      `const { ConfigError } = require(${JSON.stringify(path.join(ROOT, "components", "config", "settings"))});\n` +
        `try { module.exports = require(${JSON.stringify(path.join(ROOT, "index.ts"))}); }\n` +
        `catch (e) { throw e instanceof ConfigError ? new Error(e.message) : e; }\n`,
    );
    try {
      const r = await runUnderLanguageHost({ "panopticon:storageMode": "nfs" }, program);
      const errors = r.logs.filter((l) => l.severity === ERROR).map((l) => l.message);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/failed with an unhandled exception/);
      expect(errors[0]).toMatch(/storageMode = "nfs"/);
      expect(errors[0]).toMatch(FRAME);
      expect(pulumi.RunError.isInstance(new Error("x"))).toBe(false);
      expect(pulumi.RunError.isInstance(new ConfigError("dev", ["x"]))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
