import * as fs from "fs";
import * as path from "path";
import { ServiceSettings, Settings } from "../../components/config/settings";
import { loadStack, mountOf } from "./stack";
import { setScalars } from "./stack-edit";

/*
 * The last step of an upgrade: the stack file is pointed at the new data (and
 * image) by one byte-preserving edit, read back through the settings code, and
 * put back as it was if it does not name the new data.
 */

/** What the switch needs of an upgrade's options (pg-upgrade-core.ts's UpgradeOptions). */
export interface SwitchOptions {
  readonly settings: Settings;
  /** The project directory holding the stack file. */
  readonly dir: string;
  readonly log: (line: string) => void;
}

/** Rewrites the stack file to the new data (and image), checks the result, returns how to go back. */
export async function pointStackAt(
  o: SwitchOptions,
  pg: ServiceSettings,
  set: string,
  value: string,
  image: string,
): Promise<string> {
  const file = path.join(o.dir, `Pulumi.${o.settings.stack}.yaml`);
  const text = fs.readFileSync(file, "utf8");
  const key =
    o.settings.storageMode === "volume"
      ? ["config", "panopticon:volumeNames", set]
      : ["config", "panopticon:services", pg.name, "data", "bindDir"];
  const sets = [{ path: key, value }];
  if (image !== pg.image)
    sets.push({ path: ["config", "panopticon:services", pg.name, "image"], value: image });
  const next = setScalars(text, sets);
  fs.writeFileSync(`${file}.partial`, next);
  fs.renameSync(`${file}.partial`, file);
  try {
    const reread = loadStack(o.settings.stack, o.dir).dataSets.find((d) => d.key === set);
    const now = reread === undefined ? undefined : mountOf(reread).source;
    if (now === undefined || path.basename(now) !== path.basename(value)) {
      throw new Error(
        `the rewritten stack file points the data set ${set} at ${now}, expected ${value}`,
      );
    }
  } catch (e) {
    fs.writeFileSync(file, text);
    throw e;
  }
  const oldValue =
    o.settings.storageMode === "volume"
      ? mountOf(o.settings.dataSets.find((d) => d.key === set)!).source
      : path.basename(mountOf(o.settings.dataSets.find((d) => d.key === set)!).source);
  o.log(
    `${file}: ${key.slice(1).join(".")} = ${value}${image !== pg.image ? `, ${pg.name} image = ${image}` : ""}`,
  );
  return (
    `set ${key.slice(1).join(".")} back to ${oldValue}` +
    (image !== pg.image ? ` and the ${pg.name} image back to ${pg.image}` : "") +
    ` in ${path.basename(file)}; the old data was never changed`
  );
}
