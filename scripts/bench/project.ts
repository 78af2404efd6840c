import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { DEFAULTS } from "../../components/config/settings";
import { databaseServices, Release } from "../promote/release";
import { UsageError } from "../lib/exit-codes";
import { readProjectFile, readStackConfig as readConfigBlock, stackNames } from "../lib/stack-file";
import { FixtureLayout, fixtureCompose, writeFixtureCheckout } from "./fixture-checkout";

/*
 * What the Pulumi CLI and its Node.js language host would hand the program, read
 * from the project's own files: the runtime options of Pulumi.yaml (how node is
 * started), the entry point, and the flat `PULUMI_CONFIG` map of a stack.
 */

/** The services of the fixture checkout the bench builds (compose era, seven services). */
const FIXTURE_SERVICES = Object.keys(fixtureCompose("compose-era").services);

/** Bad input (arguments, project or stack files): nothing was started. Exit 2. */
export class BenchUsageError extends UsageError {
  override name = "BenchUsageError";
}

/** The `runtime.options` of a nodejs project that change how the program starts. */
export interface RuntimeOptions {
  /** `typescript`: the launcher registers ts-node. @default true */
  readonly typescript: boolean;
  /** `nodeargs`: extra arguments to node, split like a shell would. @default none */
  readonly nodeargs: string[];
  /** `tsconfig`: tsconfig path the launcher reads (PULUMI_NODEJS_TSCONFIG_PATH). @default tsconfig.json */
  readonly tsconfig?: string;
}

export interface ProjectInfo {
  readonly dir: string;
  readonly name: string;
  readonly runtime: RuntimeOptions;
  /** Absolute path of the entry point the launcher requires. */
  readonly program: string;
  /** Project-level config defaults (`config.<key>.default`), as `<project>:<key>` → value. */
  readonly configDefaults: Record<string, unknown>;
}

function readYaml(file: string, what: string): unknown {
  if (!fs.existsSync(file)) throw new BenchUsageError(`${file}: ${what} not found`);
  try {
    return parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new BenchUsageError(`${file}: not valid YAML (${(e as Error).message})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Splits `nodeargs` into words like the language host does (shell quoting, no
 * expansion): `--max-old-space-size=4096 --require "a b"` → 3 words.
 */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new BenchUsageError(`nodeargs = ${JSON.stringify(s)}: unterminated ${quote}`);
  if (inWord) out.push(cur);
  return out;
}

/** Parses the runtime block of a Pulumi.yaml document (`runtime: nodejs` or `{name, options}`). */
export function runtimeOptions(doc: unknown, file = "Pulumi.yaml"): RuntimeOptions {
  const rt = isRecord(doc) ? doc.runtime : undefined;
  const name = isRecord(rt) ? rt.name : rt;
  if (name !== "nodejs") {
    throw new BenchUsageError(
      `${file}: runtime = ${JSON.stringify(name)}: expected "nodejs" (the benchmark starts Node.js programs)`,
    );
  }
  const opts = isRecord(rt) && isRecord(rt.options) ? rt.options : {};
  const typescript = opts.typescript ?? true;
  if (typeof typescript !== "boolean") {
    throw new BenchUsageError(
      `${file}: runtime.options.typescript = ${JSON.stringify(typescript)}: expected true or false`,
    );
  }
  const nodeargs = opts.nodeargs ?? "";
  if (typeof nodeargs !== "string") {
    throw new BenchUsageError(
      `${file}: runtime.options.nodeargs = ${JSON.stringify(nodeargs)}: expected a string`,
    );
  }
  const tsconfig = opts.tsconfig;
  if (tsconfig !== undefined && typeof tsconfig !== "string") {
    throw new BenchUsageError(
      `${file}: runtime.options.tsconfig = ${JSON.stringify(tsconfig)}: expected a path`,
    );
  }
  return { typescript, nodeargs: splitArgs(nodeargs), tsconfig };
}

/** Reads Pulumi.yaml (by the tools' one reader, lib/stack-file.ts) and package.json of the project in `dir`. */
export function readProject(dir: string): ProjectInfo {
  const { file, doc, name, configDefaults } = readProjectFile(dir);
  const runtime = runtimeOptions(doc, file);
  // The launcher's order: Pulumi.yaml `main`, else package.json `main`, else the directory.
  const abs = path.dirname(file);
  const pkgFile = path.join(abs, "package.json");
  const pkg = fs.existsSync(pkgFile) ? JSON.parse(fs.readFileSync(pkgFile, "utf8")) : {};
  const main =
    typeof doc.main === "string" ? doc.main : typeof pkg.main === "string" ? pkg.main : "index.ts";
  return { dir: abs, name, runtime, program: path.resolve(abs, main), configDefaults };
}

/**
 * The stacks that have a `Pulumi.<stack>.yaml` in `dir` (the one stack-name rule's),
 * dev and prod first, the rest by name.
 */
export function stackFiles(dir: string): string[] {
  const rank = (s: string) => (s === "dev" ? 0 : s === "prod" ? 1 : 2);
  return stackNames(dir).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The Panopticon checkout a bench run builds from, and how it got there. */
export interface BenchSource {
  readonly dir: string;
  /** For the report: "fixture checkout (release-0.1)" or the user's path. */
  readonly what: string;
  /** Removes a fixture the bench wrote; a user's checkout is left alone. */
  close(): void;
}

/**
 * `explicit` (a checkout the user named, relative to the working directory) when
 * given, else a fixture checkout of `layout` written to a fresh temp directory.
 */
export function benchSource(explicit: string | undefined, layout: FixtureLayout): BenchSource {
  if (explicit !== undefined) {
    const dir = path.resolve(explicit);
    if (!fs.existsSync(path.join(dir, "docker-compose.yml"))) {
      throw new BenchUsageError(
        `--app-source = ${JSON.stringify(explicit)}: no docker-compose.yml in ${dir}: expected a Panopticon checkout (git clone https://github.com/rbownes/Argus)`,
      );
    }
    return { dir, what: dir, close: () => undefined };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-checkout-"));
  writeFixtureCheckout(dir, layout);
  return {
    dir,
    what: `fixture checkout (${layout})`,
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The stack config building from `appSource` instead of the checkout it names. The
 * bench never reads a configured checkout (../Argus may be at any commit, or absent):
 * it builds from the fixture it wrote, or from the path the user passed.
 */
export function withAppSource(
  stackConfig: Record<string, unknown>,
  appSource: string,
): Record<string, unknown> {
  const key = "panopticon:appSource";
  if (typeof stackConfig[key] !== "string") return stackConfig;
  return { ...stackConfig, [key]: appSource };
}

/** A stand-in digest for one promoted service (never pulled: the bench runs under mocks). */
function standInImage(name: string, tag: string): string {
  const hex = createHash("sha256").update(`bench-release:${name}`).digest("hex");
  return `registry.example/panopticon/${name}:${tag}@sha256:${hex}`;
}

/**
 * A stack without a checkout and without a release yet (prod before its first
 * promotion) as `npm run promote` would leave it: the release of `appSource` (its
 * docker-compose.yml and revision) and a stand-in digest for each compose service the
 * stack does not pin, the database left out on AWS (RDS replaces it). Any other stack
 * is returned as it is.
 */
export function withPromotedRelease(
  stackConfig: Record<string, unknown>,
  appSource: string,
): Record<string, unknown> {
  const releaseKey = "panopticon:release";
  if (typeof stackConfig["panopticon:appSource"] === "string") return stackConfig;
  if (stackConfig[releaseKey] !== undefined) return stackConfig;
  const file = path.join(appSource, "docker-compose.yml");
  const compose = readYaml(file, "compose file");
  if (!isRecord(compose) || !isRecord(compose.services)) {
    throw new BenchUsageError(`${file}: expected a compose file with a services: map`);
  }
  // The bench's fixture checkout is no git repository: no commit to record.
  const release: Release = { source: { commit: null, dirty: null }, compose };
  const servicesKey = "panopticon:services";
  const own = isRecord(stackConfig[servicesKey]) ? stackConfig[servicesKey] : {};
  const aws = (stackConfig["panopticon:environment"] ?? DEFAULTS.environment) === "aws";
  const databases = databaseServices(release);
  const services: Record<string, unknown> = { ...own };
  for (const name of Object.keys(compose.services)) {
    const block = own[name];
    if (block === false || (isRecord(block) && block.image !== undefined)) continue;
    if (databases.has(name) && aws) continue;
    // A pinned Postgres keeps a tag its major can be read from.
    const image = standInImage(name, databases.has(name) ? "pg15" : "1.0.0");
    services[name] = { ...(isRecord(block) ? block : {}), image };
  }
  return { ...stackConfig, [servicesKey]: services, [releaseKey]: release };
}

/**
 * The `config:` block of `Pulumi.<stack>.yaml`, as parsed YAML, its panopticon:appSource
 * (if set) replaced by `appSource` (withAppSource); a stack with neither a checkout nor
 * a release runs the release of `appSource` (withPromotedRelease).
 */
export function readStackConfig(
  dir: string,
  stack: string,
  appSource: string,
): Record<string, unknown> {
  const config = readConfigBlock(dir, stack, "--stacks");
  return withPromotedRelease(withAppSource(config, appSource), appSource);
}

/**
 * The flat map the CLI passes in PULUMI_CONFIG: project defaults overlaid by the
 * stack's values, keys namespaced (`panopticon:services`), structured values as
 * JSON text. Encrypted values (`{secure: ...}`) cannot be decrypted without the
 * CLI; they are left out and listed, so the program takes its no-secret path.
 */
export function pulumiConfig(
  project: ProjectInfo,
  stackConfig: Record<string, unknown>,
): { config: Record<string, string>; skippedSecrets: string[] } {
  const merged: Record<string, unknown> = { ...project.configDefaults };
  for (const [k, v] of Object.entries(stackConfig)) {
    merged[k.includes(":") ? k : `${project.name}:${k}`] = v;
  }
  const config: Record<string, string> = {};
  const skippedSecrets: string[] = [];
  for (const [k, v] of Object.entries(merged)) {
    if (isRecord(v) && "secure" in v) {
      skippedSecrets.push(k);
      continue;
    }
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { config, skippedSecrets: skippedSecrets.sort() };
}

/** Name of the i-th generated service (1-based): `bench-svc-001`. */
export function benchServiceName(i: number): string {
  return `bench-svc-${String(i).padStart(3, "0")}`;
}

/**
 * The stack config with as many generated app services as it takes to reach
 * `total` services. Each one has its own image, a container port, no published
 * port, and a data mapping, so it adds an image, a container and a data volume
 * like a real app service does.
 */
export function withServices(
  project: ProjectInfo,
  stackConfig: Record<string, unknown>,
  total: number,
): Record<string, unknown> {
  const key = `${project.name}:services`;
  const configured = stackConfig[key] ?? {};
  if (!isRecord(configured)) {
    throw new BenchUsageError(`${key} = ${JSON.stringify(configured)}: expected a mapping`);
  }
  const existing = new Set([...FIXTURE_SERVICES, ...Object.keys(configured)]);
  if (!Number.isInteger(total) || total < existing.size) {
    throw new BenchUsageError(
      `--services: ${total} is fewer than the ${existing.size} services the stack already has; expected integers ≥ ${existing.size}`,
    );
  }
  const services: Record<string, unknown> = { ...configured };
  // The ECS runtime runs images by digest and keeps file data on EFS only: each
  // generated service is then an EFS single writer (access point, IAM grant, no scaling).
  const awsKey = `${project.name}:aws`;
  const aws = stackConfig[awsKey];
  const ecs = isRecord(aws) && aws.runtime === "ecs";
  const storage: Record<string, unknown> = ecs && isRecord(aws.storage) ? { ...aws.storage } : {};
  let i = 0;
  while (existing.size < total) {
    const name = benchServiceName(++i);
    if (existing.has(name)) continue;
    existing.add(name);
    const set = name.replace(/-/g, "_");
    const digest = createHash("sha256").update(name).digest("hex");
    services[name] = {
      image: `ghcr.io/panopticon-ai/${name}:1.0.0${ecs ? `@sha256:${digest}` : ""}`,
      port: 8000,
      hostPort: false,
      data: { set, path: "/app/data", persistEnv: "DATA_DIR", uid: 1000, gid: 1000 },
      healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:8000/health"] },
    };
    if (ecs) storage[set] = "efs";
  }
  const out = { ...stackConfig, [key]: services };
  return ecs && isRecord(aws) ? { ...out, [awsKey]: { ...aws, storage } } : out;
}
