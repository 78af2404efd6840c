import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { PROJECT } from "./naming";
import { postgresMajorOf } from "./services";

/*
 * Where each service's image comes from: a prebuilt reference, or a build from a
 * Panopticon checkout (`panopticon:appSource`) the way its docker-compose.yml
 * builds it (context and dockerfile from the catalogue), optionally pushed to a
 * registry. components/config/settings.ts merges these keys into its schema and calls
 * resolveImages() once; the program calls checkAppSource() before it registers
 * anything (the tools that only read stack files never need the checkout).
 */

/** `host[:port][/path...]`, optionally written with `https://`; no tag, no digest. */
const REGISTRY =
  /^(https:\/\/)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/?$/;

export const imagesSchema = {
  appSource: z
    .string({ error: "expected a path to a Panopticon checkout, relative to the project" })
    .min(1, "expected a path to a Panopticon checkout, relative to the project"),
  registry: z
    .string({ error: "expected a registry URL, e.g. ghcr.io/acme/panopticon or localhost:5000" })
    .regex(REGISTRY, "expected a registry URL, e.g. ghcr.io/acme/panopticon or localhost:5000"),
  buildOnPreview: z.boolean({ error: "expected true or false" }),
  imageReleasesKept: z
    .number({ error: "expected an integer number of releases between 1 and 1000" })
    .int("expected an integer number of releases between 1 and 1000")
    .min(1, "expected an integer number of releases between 1 and 1000")
    .max(1000, "expected an integer number of releases between 1 and 1000"),
};

export const IMAGE_DEFAULTS = { buildOnPreview: false, imageReleasesKept: 30 };

type RawImages = Partial<{ [K in keyof typeof imagesSchema]: z.infer<(typeof imagesSchema)[K]> }>;

/** compose's `build:` of one service, with absolute paths into the checkout. */
export interface ImageBuild {
  /** Absolute build context (compose `context: .` = the checkout root). */
  readonly context: string;
  /** Absolute path of the dockerfile. */
  readonly dockerfile: string;
  /** The dockerfile relative to the checkout, as compose names it. */
  readonly dockerfileInSource: string;
  readonly args: Readonly<Record<string, string>>;
}

/** One service's image: built from the checkout, or a prebuilt reference. */
export type ServiceImageSource =
  | {
      readonly service: string;
      readonly from: "build";
      readonly build: ImageBuild;
      /**
       * The service whose build makes this image: itself, or the first service (by
       * name) that builds the same context, dockerfile and args (0.1's two item
       * storages are one image run twice).
       */
      readonly builtBy: string;
    }
  | { readonly service: string; readonly from: "prebuilt"; readonly image: string };

export interface ImageSettings {
  /** Absolute path of the checkout; undefined when no service is built. */
  readonly appSource?: string;
  /** The value of panopticon:appSource as written (for error messages). */
  readonly appSourceConfigured?: string;
  /**
   * Where built images are pushed (`host/path`, no scheme); each service gets
   * `<registry>/<service>`. Undefined: the build stays on the engine that made
   * it (local stacks) or goes to the stack's own ECR repositories (AWS; a dev
   * stack can push there too, with `registry` set to their common prefix).
   */
  readonly registry?: string;
  /**
   * AWS stacks: the services that get an ECR repository, every one compose builds,
   * whether this stack builds it or runs a digest promoted from a stack that pushed
   * there. Empty for local stacks.
   */
  readonly repositories: readonly string[];
  /** Build during `pulumi preview` too (docker-build's buildOnPreview). */
  readonly buildOnPreview: boolean;
  /** ECR lifecycle: images kept per repository. */
  readonly releasesKept: number;
  /** Per service, sorted by service name. */
  readonly services: readonly ServiceImageSource[];
}

/** What resolveImages needs of a resolved service (the catalogue's fields). */
export interface ImageInputs {
  readonly name: string;
  /** A prebuilt image from the catalogue or config. */
  readonly image?: string;
  /** compose's build, relative to the checkout. */
  readonly build?: {
    readonly context: string;
    readonly dockerfile: string;
    readonly args?: Readonly<Record<string, string>>;
  };
}

const key = (k: string) => `${PROJECT}:${k}`;

const byName = (a: ImageInputs, b: ImageInputs) => (a.name < b.name ? -1 : 1);

/** Compose builds this service (the catalogue names its dockerfile). */
function hasBuild(svc: ImageInputs): boolean {
  return svc.build !== undefined && svc.build.dockerfile !== "";
}

/**
 * Decides, per service, build or prebuilt: an `image` set in the stack's own
 * `services.<name>` wins; otherwise a service with a compose build is built when
 * appSource is set; otherwise the catalogue's image is used. Pure (no file
 * access): problems are appended for settings.ts to report with the others.
 */
export function resolveImages(
  raw: RawImages & { services?: Record<string, { image?: string } | false | undefined> },
  services: readonly ImageInputs[],
  ctx: {
    readonly baseDir: string;
    readonly environment: "local" | "aws";
    /** panopticon:aws.runtime; ECS runs prebuilt images only. */
    readonly runtime?: string;
  },
  problems: string[],
): ImageSettings {
  const appSource =
    raw.appSource === undefined ? undefined : path.resolve(ctx.baseDir, raw.appSource);
  if (raw.registry !== undefined && ctx.environment === "aws") {
    problems.push(
      `${key("registry")} = ${JSON.stringify(raw.registry)}: AWS stacks push to their own ECR repositories; remove the key`,
    );
  }
  const registry = raw.registry?.replace(/^https:\/\//, "").replace(/\/$/, "");
  const out: ServiceImageSource[] = [];
  const buildOwners = new Map<string, string>();
  for (const svc of [...services].sort(byName)) {
    const over = raw.services?.[svc.name];
    const pinned = over && typeof over === "object" ? over.image : undefined;
    if (pinned !== undefined) {
      out.push({ service: svc.name, from: "prebuilt", image: pinned });
    } else if (appSource !== undefined && hasBuild(svc)) {
      const build = {
        context: path.resolve(appSource, svc.build!.context),
        dockerfile: path.resolve(appSource, svc.build!.context, svc.build!.dockerfile),
        dockerfileInSource: path.join(svc.build!.context, svc.build!.dockerfile),
        args: { ...(svc.build!.args ?? {}) },
      };
      const same = buildIdentity(svc.build!);
      const builtBy = buildOwners.get(same) ?? svc.name;
      buildOwners.set(same, builtBy);
      out.push({ service: svc.name, from: "build", build, builtBy });
    } else if (svc.image !== undefined) {
      out.push({ service: svc.name, from: "prebuilt", image: svc.image });
    } else {
      problems.push(
        `${key(`services.${svc.name}.image`)} = (missing): expected a prebuilt image, or ${key("appSource")} (a Panopticon checkout) to build it` +
          (hasBuild(svc)
            ? `; compose builds ${svc.name} from ${svc.build!.dockerfile} and publishes none`
            : ""),
      );
    }
  }
  const builds = out.some((s) => s.from === "build");
  if (builds && ctx.runtime === "ecs") {
    problems.push(
      `${key("appSource")} = ${JSON.stringify(raw.appSource)}: the ECS runtime (${key("aws.runtime")} = "ecs") runs prebuilt images only: pin services.<name>.image to digests promoted into this stack's ECR repositories, or remove the key`,
    );
  }
  if (registry !== undefined && !builds) {
    problems.push(
      `${key("registry")} = ${JSON.stringify(raw.registry)}: nothing is built (set ${key("appSource")} to a Panopticon checkout), so nothing would be pushed; remove the key`,
    );
  }
  return {
    appSource: builds ? appSource : undefined,
    appSourceConfigured: raw.appSource,
    registry,
    // One owner for both AWS runtimes (docker-host and ECS), so a move keeps them.
    // One repository per image: a service that runs another's build has none.
    repositories: ctx.environment === "aws" ? repositoriesOf(services) : [],
    buildOnPreview: raw.buildOnPreview ?? IMAGE_DEFAULTS.buildOnPreview,
    releasesKept: raw.imageReleasesKept ?? IMAGE_DEFAULTS.imageReleasesKept,
    services: out,
  };
}

/** Two services with the same identity are one image (compose's context, dockerfile, args). */
function buildIdentity(b: NonNullable<ImageInputs["build"]>): string {
  return JSON.stringify([
    path.posix.normalize(path.posix.join(b.context, b.dockerfile)),
    path.posix.normalize(b.context),
    Object.entries(b.args ?? {}).sort(),
  ]);
}

/** The services whose images get a repository: one per distinct compose build. */
function repositoriesOf(services: readonly ImageInputs[]): string[] {
  const owners = new Map<string, string>();
  for (const svc of [...services].filter(hasBuild).sort(byName)) {
    const same = buildIdentity(svc.build!);
    if (!owners.has(same)) owners.set(same, svc.name);
  }
  return [...owners.values()].sort();
}

/** The Postgres major of the image a dockerfile's last stage builds FROM, if readable. */
export function dockerfileFromMajor(text: string): number | undefined {
  const froms = text
    .split(/\r?\n/)
    .map((l) => /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(l)?.[1])
    .filter((f): f is string => f !== undefined);
  const last = froms[froms.length - 1];
  return last === undefined ? undefined : postgresMajorOf(last);
}

/** The Postgres major a dockerfile builds, if the file exists and its FROM names one. */
export function dockerfileMajorAt(file: string): number | undefined {
  return isFile(file) ? dockerfileFromMajor(fs.readFileSync(file, "utf8")) : undefined;
}

/**
 * A Postgres built from the checkout must be the major the stack's data needs:
 * the dockerfile's FROM decides what runs, so a checkout that moves Postgres to
 * another major is refused until postgresMajor says so (after npm run pg-upgrade).
 */
function checkBuiltPostgres(
  images: ImageSettings,
  postgres: { readonly service?: string; readonly major?: number },
  at: string,
): string[] {
  const built = images.services.find((s) => s.service === postgres.service);
  if (built === undefined || built.from !== "build" || !isFile(built.build.dockerfile)) return [];
  const fromMajor = dockerfileFromMajor(fs.readFileSync(built.build.dockerfile, "utf8"));
  const where = `${built.build.dockerfileInSource} in ${images.appSource}`;
  if (fromMajor === undefined) {
    return postgres.major === undefined
      ? [
          `${at}: the Postgres major of ${where} cannot be read from its FROM line: set ${key("postgresMajor")} (e.g. 15)`,
        ]
      : [];
  }
  if (postgres.major !== undefined && fromMajor !== postgres.major) {
    return [
      `${at}: ${where} builds Postgres ${fromMajor}, but this stack's data is Postgres ${postgres.major} (that server would refuse it): keep the checkout at Postgres ${postgres.major}, or move the data with npm run pg-upgrade and set ${key("postgresMajor")} to ${fromMajor}`,
    ];
  }
  return [];
}

/**
 * The checkout must exist and hold every dockerfile the catalogue names, and a
 * Postgres built from it must be the stack's major, or the program stops before
 * registering anything. Returns the problems (empty: fine).
 */
export function checkAppSource(
  images: ImageSettings,
  postgres: { readonly service?: string; readonly major?: number } = {},
): string[] {
  const configured = JSON.stringify(images.appSourceConfigured);
  const at = `${key("appSource")} = ${configured}`;
  if (images.appSourceConfigured === undefined) return [];
  const root = images.appSource;
  if (root === undefined) return []; // every service pinned to a prebuilt image
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(root);
  } catch {
    stat = undefined;
  }
  if (stat === undefined || !stat.isDirectory()) {
    return [
      `${at}: ${root} ${stat === undefined ? "does not exist" : "is not a directory"}: expected a Panopticon checkout (the directory holding its docker-compose.yml), relative to the project`,
    ];
  }
  const problems: string[] = [];
  for (const s of images.services) {
    if (s.from !== "build") continue;
    const f = s.build.dockerfile;
    if (!isFile(f)) {
      problems.push(
        `${at}: no ${s.build.dockerfileInSource} in ${root} (service ${s.service}): expected a Panopticon checkout with the dockerfile compose builds it from, or ${key(`services.${s.service}.image`)} set to a prebuilt image`,
      );
    }
  }
  return [...problems, ...checkBuiltPostgres(images, postgres, at)];
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
