import { bindingOf, UNKNOWN } from "../guard/bindings";
import { PreviewInput } from "../guard/types";

/*
 * Which data-bearing services a preview moves to another image. ChromaDB and
 * Postgres migrate their files forward when a new version first opens them, so
 * the data as it stands before the change is only kept by a backup taken first.
 */

const CONTAINER = "docker:index/container:Container";
const NO_NEW = new Set(["delete", "delete-replaced", "discard", "discard-replaced"]);

export interface ImageChange {
  readonly stack: string;
  readonly service: string;
  readonly dataSet: string;
  readonly from: string;
  readonly to: string;
}

export function imageChanges(input: PreviewInput): ImageChange[] {
  const found = new Map<string, ImageChange>();
  for (const s of input.steps) {
    if (s.type !== CONTAINER || NO_NEW.has(s.op) || s.old === undefined || s.new === undefined) {
      continue;
    }
    const o = bindingOf(s.urn, s.old);
    const n = bindingOf(s.urn, s.new);
    if (o === undefined || n === undefined) continue;
    const from = String(s.old.inputs?.image ?? "");
    const to = String(s.new.inputs?.image ?? "");
    // A new image id is often known only during the update: that is a change too.
    if (from !== to || to === UNKNOWN) {
      found.set(`${o.stack}/${o.dataSet}`, {
        stack: o.stack,
        service: n.service,
        dataSet: o.dataSet,
        from,
        to: to === UNKNOWN ? "(known during the update)" : to,
      });
    }
  }
  return [...found.values()].sort((a, b) => (a.dataSet < b.dataSet ? -1 : 1));
}
