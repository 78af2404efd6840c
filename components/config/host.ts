import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PROJECT } from "./naming";

/*
 * Bind-mode checks that need the machine: the data directory must not be a file, and
 * one inside the project must be ignored by git, or `git add .` would commit the
 * databases. index.ts runs them right after the settings, before anything is
 * registered; they return problems for a ConfigError.
 */

export interface HostPathInput {
  readonly storageMode: string;
  readonly environment: string;
  /** panopticon:dataDir as configured (relative to the project, or absolute). */
  readonly dataDir: string;
}

/** `git check-ignore` of a directory: true/false, or undefined when git cannot tell (no repository, no git). */
export function gitIgnores(repoDir: string, relDir: string): boolean | undefined {
  const r = spawnSync("git", ["-C", repoDir, "check-ignore", "-q", "--", `${relDir}/`], {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "ignore"],
  });
  if (r.error || (r.status !== 0 && r.status !== 1)) return undefined;
  return r.status === 0;
}

export function checkHostPaths(s: HostPathInput, baseDir: string): string[] {
  if (s.environment !== "local" || s.storageMode !== "bind") return [];
  const at = `${PROJECT}:dataDir = ${JSON.stringify(s.dataDir)}`;
  const dir = path.resolve(baseDir, s.dataDir);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) {
    return [
      `${at}: ${dir} is an existing file, not a directory: expected the directory that holds (or will hold) postgres/, judge_service/, ...`,
    ];
  }
  const rel = path.relative(baseDir, dir);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return []; // outside the project
  const ignored = rel === "" ? false : gitIgnores(baseDir, rel.split(path.sep).join("/"));
  if (ignored === false) {
    return [
      `${at}: ${dir} is inside the project and git does not ignore it, so the databases could be committed: expected a directory .gitignore lists (./data is), or one outside the project`,
    ];
  }
  return [];
}
