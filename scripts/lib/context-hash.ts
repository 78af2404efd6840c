import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * What docker-build hashes to decide whether an image may need a rebuild: every
 * file of the build context (relative path, mode, bytes, in a stable order) and the
 * dockerfile. The real-engine tests replay docker-build's rule with it and the
 * benchmark times it. No .dockerignore support: a context holding one is refused
 * instead of being hashed differently from the real resource.
 */
export function buildContextHash(context: string, dockerfile?: string): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.name === ".dockerignore" && dir === context) {
        throw new Error(`${full}: .dockerignore is not supported by this hash`);
      }
      if (e.isDirectory()) walk(full);
      else {
        h.update(`${path.relative(context, full)}\0${fs.statSync(full).mode}\0`);
        h.update(fs.readFileSync(full));
      }
    }
  };
  walk(context);
  if (dockerfile !== undefined) h.update(fs.readFileSync(dockerfile));
  return h.digest("hex");
}
