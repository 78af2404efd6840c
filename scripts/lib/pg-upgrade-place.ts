import * as path from "path";
import { LABELS } from "../../components/contract";
import { DataMount, docker, helperRunArgs, volumeExists } from "./docker";

/*
 * The new data's place, made and looked for by the engine itself: a bind
 * directory of a remote Docker host is on that host, not here.
 */
function inParent(helper: string, m: DataMount, readOnly: boolean, script: string): string[] {
  return helperRunArgs({
    image: helper,
    mount: { type: "bind", source: path.posix.dirname(m.source) },
    readOnly,
    purpose: "pg-upgrade",
    command: ["sh", "-c", script, "sh", path.posix.basename(m.source)],
  });
}

export async function placeExists(helper: string, m: DataMount): Promise<boolean> {
  if (m.type === "volume") return volumeExists(m.source);
  return (
    (await docker(inParent(helper, m, true, '[ -e "/data/$1" ]'), { allowFail: true })).code === 0
  );
}

export async function createPlace(helper: string, m: DataMount, set: string): Promise<void> {
  if (m.type === "volume") {
    await docker(["volume", "create", "--label", `${LABELS.dataSet}=${set}`, m.source]);
  } else {
    await docker(inParent(helper, m, false, 'mkdir "/data/$1" && chmod 0700 "/data/$1"'));
  }
}

export async function removePlace(helper: string, m: DataMount): Promise<void> {
  if (m.type === "volume") await docker(["volume", "rm", "-f", m.source]);
  else await docker(inParent(helper, m, false, 'rm -rf "/data/$1"'));
}
