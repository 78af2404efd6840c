import * as path from "path";
import { DEFAULT_DATA_MOUNT_PATH, PROJECT } from "./naming";

/*
 * Values that validate as types but would do damage: host directories the program
 * would fill with data directories, container paths a volume would hide, image
 * references that pin nothing, ranges open to every address. Pure checks on the
 * config, run by parseSettings with the others (the filesystem ones are in
 * components/config/host.ts).
 */

/** Directories no data set may live in or under: the system's and Docker's own. */
const SYSTEM_TREES = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/proc",
  "/run",
  "/sbin",
  "/snap",
  "/sys",
  "/usr",
  "/var/lib/containerd",
  "/var/lib/docker",
  "/var/run",
];

/** Directories that may hold a data directory below them, but are not one themselves. */
const SYSTEM_ROOTS = [
  "/",
  "/home",
  "/media",
  "/mnt",
  "/opt",
  "/root",
  "/srv",
  "/tmp",
  "/var",
  "/var/lib",
];

/**
 * Why a host directory must not hold data, or undefined when it may: `/` and the
 * top-level system directories themselves, or anything inside /etc, /usr, /var/lib/docker, ...
 */
export function systemDirectory(dir: string): string | undefined {
  const p = path.posix.normalize(dir).replace(/(.)\/+$/, "$1");
  if (SYSTEM_ROOTS.includes(p)) return `${p} is a system directory`;
  const tree = SYSTEM_TREES.find((t) => p === t || p.startsWith(`${t}/`));
  return tree === undefined
    ? undefined
    : `${p} is ${p === tree ? "" : "inside "}${tree}, which belongs to the system`;
}

/** Container paths a data mount would hide the image's own files at. */
const CONTAINER_SYSTEM = ["/", "/bin", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr"];

/** Why a container mount path must not hold a data set, or undefined. */
export function badMountPath(p: string): string | undefined {
  const n = path.posix.normalize(p).replace(/(.)\/+$/, "$1");
  return CONTAINER_SYSTEM.includes(n)
    ? `mounting a data set at ${n} would hide the image's own ${n === "/" ? "files" : n}`
    : undefined;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * Why an image reference pins nothing, or undefined: a reference needs a tag
 * (`postgres:15`) or a digest (`repo@sha256:<64 hex>`); a bare name means whatever
 * `latest` is on the day of the deploy.
 */
export function imageRefProblem(ref: string): string | undefined {
  if (DIGEST.test(ref)) return undefined;
  if (ref.includes("@")) return "expected a digest of the form @sha256:<64 hex digits>";
  const last = ref.slice(ref.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  if (colon < 0) {
    return "expected a tag (e.g. :15) or a digest (@sha256:...); a bare name runs whatever latest is that day";
  }
  return TAG.test(last.slice(colon + 1)) && last.indexOf(":", colon + 1) < 0
    ? undefined
    : "expected a tag of letters, digits, _ . - after the colon, or a digest";
}

const OPEN_CIDR = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*)\/0$/;

/** Every `key = value` of the raw config whose value is a range of every address (/0). */
export function openCidrs(raw: unknown, at: readonly string[] = []): Array<[string, string]> {
  if (typeof raw === "string") return OPEN_CIDR.test(raw.trim()) ? [[at.join("."), raw]] : [];
  if (Array.isArray(raw)) return raw.flatMap((v, i) => openCidrs(v, [...at, String(i)]));
  if (raw !== null && typeof raw === "object") {
    return Object.entries(raw).flatMap(([k, v]) => openCidrs(v, [...at, k]));
  }
  return [];
}

/** Secrets that must not be empty when set: Postgres refuses an empty password on new data. */
const NON_EMPTY_SECRETS = ["postgresPassword"];

export interface SafetyInput {
  readonly environment: string;
  readonly storageMode: string;
  readonly dataDir: string;
  /** Relative bind paths resolve against it (the project directory). */
  readonly baseDir: string;
  readonly dataMountPath?: string;
  readonly initImage?: string;
  readonly services?: Readonly<Record<string, { readonly image?: string } | false>>;
  /** Secret keys set to an empty value. */
  readonly emptySecrets: readonly string[];
}

const show = (v: unknown) => JSON.stringify(v);

/** Every dangerous value of a validated config, as `key = value: expected ...` lines. */
export function safetyProblems(raw: unknown, s: SafetyInput): string[] {
  const problems: string[] = [];
  if (s.storageMode === "bind" && s.environment === "local") {
    const why = systemDirectory(path.resolve(s.baseDir, s.dataDir));
    if (why !== undefined) {
      problems.push(
        `${PROJECT}:dataDir = ${show(s.dataDir)}: ${why}: expected a directory of its own for the data (e.g. ./data or /srv/panopticon), where the program creates postgres/, judge_service/, ...`,
      );
    }
  }
  const mountWhy = s.dataMountPath === undefined ? undefined : systemDirectory(s.dataMountPath);
  if (mountWhy !== undefined) {
    problems.push(
      `${PROJECT}:aws.dataMountPath = ${show(s.dataMountPath)}: ${mountWhy}: expected a directory of its own on the host, e.g. ${DEFAULT_DATA_MOUNT_PATH}`,
    );
  }
  for (const key of NON_EMPTY_SECRETS.filter((k) => s.emptySecrets.includes(k))) {
    problems.push(
      `${PROJECT}:${key} = "" (secret, empty): expected a non-empty password (the Postgres image refuses an empty POSTGRES_PASSWORD on new data); run \`pulumi config set --secret ${key} <value>\`, or \`pulumi config rm ${key}\` to have one generated`,
    );
  }
  for (const [at, value] of openCidrs(raw)) {
    problems.push(
      `${PROJECT}:${at} = ${show(value)}: a range of every address (/0): expected the narrowest range that needs access (a VPN or office range), never the whole internet`,
    );
  }
  const images: Array<[string, string | undefined]> = [
    ["initImage", s.initImage],
    ...Object.entries(s.services ?? {}).map(([n, o]): [string, string | undefined] => [
      `services.${n}.image`,
      o ? o.image : undefined,
    ]),
  ];
  for (const [at, ref] of images) {
    const why = ref === undefined ? undefined : imageRefProblem(ref);
    if (why !== undefined) problems.push(`${PROJECT}:${at} = ${show(ref)}: ${why}`);
  }
  return problems;
}
