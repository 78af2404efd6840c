import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bindPath, composeVolumeName, PROJECT, volumeName } from "./config/naming";
import type { Settings } from "./config/settings";

/*
 * A local stack moved to release 0.1 over compose-era data starts with none of it
 * visible: 0.1 keeps every store in Postgres under new names and no longer mounts
 * the query and evaluation data sets. Nothing is deleted, yet everything is unread.
 * So a local preview of that change is refused until `npm run migrate-data` has run
 * for the stack without a problem, or `panopticon:acknowledgeUnmigratedData` says
 * the old stores are to be left behind (they stay retained either way).
 *
 * What counts as compose-era data here: a data set only the compose era mounts
 * (query, evaluation) that exists on this engine or disk, and, in bind mode, a
 * ChromaDB file in the judge's directory (0.1 still mounts it but reads a table).
 * A judge volume's contents cannot be seen without running a container: doctor and
 * the guard cover that case.
 */

/** The compose era's data sets that release 0.1 no longer mounts, with their ./data dirs. */
const COMPOSE_ERA_ONLY = [
  { set: "query", bindDir: "query_storage" },
  { set: "evaluation", bindDir: "evaluation_storage" },
] as const;

export const ACKNOWLEDGE_KEY = "acknowledgeUnmigratedData";

/** What the check may look at; index.ts passes the engine and the disk. */
export interface UnmigratedProbe {
  /** Whether the engine has this volume; undefined when the engine cannot be asked. */
  readonly volumeExists: (name: string) => boolean | undefined;
  readonly exists: (file: string) => boolean;
  /** Parsed migrate-data reports of this project (`<baseDir>/backups/*-migrate-report.json`). */
  readonly reports: () => ReadonlyArray<{ readonly stack?: string; readonly problems?: unknown }>;
}

/** Where compose-era data of this stack sits, one description per place found. */
function composeEraData(s: Settings, baseDir: string, probe: UnmigratedProbe): string[] {
  const found: string[] = [];
  for (const { set, bindDir } of COMPOSE_ERA_ONLY) {
    if (s.storageMode === "bind") {
      const dir = bindPath(baseDir, s.dataDir, bindDir);
      if (probe.exists(dir)) found.push(`data set ${set} (directory ${dir})`);
    } else {
      // The volume this stack would have mounted: its own, or the compose era's external one.
      const volume = s.adoptComposeVolumes
        ? composeVolumeName(set)
        : volumeName(s.project, s.stack, set);
      if (probe.volumeExists(volume) === true) found.push(`data set ${set} (volume ${volume})`);
    }
  }
  const judge = s.dataSets.find((d) => d.key === "judge");
  const chroma =
    judge?.hostPath === undefined ? undefined : path.join(judge.hostPath, "chroma.sqlite3");
  if (s.storageMode === "bind" && chroma !== undefined && probe.exists(chroma)) {
    found.push(`the ChromaDB collection llm_outputs (${chroma})`);
  }
  return found;
}

/**
 * The refusal for a local 0.1 stack over unmigrated compose-era data, or undefined.
 * `acknowledged` is the value of panopticon:acknowledgeUnmigratedData.
 */
export function unmigratedProblem(
  s: Settings,
  opts: {
    readonly baseDir: string;
    readonly acknowledged?: boolean;
    readonly probe: UnmigratedProbe;
  },
): string | undefined {
  if (s.environment !== "local" || s.layout.kind !== "release-0.1" || opts.acknowledged)
    return undefined;
  const found = composeEraData(s, opts.baseDir, opts.probe);
  if (found.length === 0) return undefined;
  const migrated = opts.probe
    .reports()
    .some((r) => r.stack === s.stack && Array.isArray(r.problems) && r.problems.length === 0);
  if (migrated) return undefined;
  return (
    `${PROJECT}:${ACKNOWLEDGE_KEY} = (missing): this stack deploys release 0.1 over compose-era ` +
    `data it does not read: ${found.join(", ")}. Migrate it first with ` +
    `npm run migrate-data -- --stack ${s.stack} (docs/migration.md), or set ${PROJECT}:${ACKNOWLEDGE_KEY} ` +
    `to true to leave it behind (it stays retained, unread)`
  );
}

/** The probe index.ts uses: the local disk, the project's reports, and `docker volume inspect`. */
export function localProbe(
  baseDir: string,
  volumeExists: (name: string) => boolean | undefined,
): UnmigratedProbe {
  return {
    volumeExists,
    exists: (f) => fs.existsSync(f),
    reports: () => {
      const dir = path.join(baseDir, "backups");
      let names: string[];
      try {
        names = fs.readdirSync(dir).filter((n) => n.endsWith("-migrate-report.json"));
      } catch {
        return [];
      }
      return names.flatMap((n) => {
        try {
          return [
            JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")) as {
              stack?: string;
              problems?: unknown;
            },
          ];
        } catch {
          return [];
        }
      });
    },
  };
}

/**
 * Whether the local engine has a volume: true, false, or undefined when it cannot be
 * asked (no docker CLI, no engine, or PANOPTICON_ENGINE_PROBE=off, which the program's
 * unit tests set so that no test depends on the volumes of the machine it runs on).
 */
export function dockerVolumeExists(name: string): boolean | undefined {
  if (process.env.PANOPTICON_ENGINE_PROBE === "off") return undefined;
  const r = spawnSync("docker", ["volume", "inspect", "--format", "{{.Name}}", name], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (r.status === 0) return true;
  return /no such volume/i.test(r.stderr ?? "") ? false : undefined;
}
