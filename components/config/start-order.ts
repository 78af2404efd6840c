import { PROJECT } from "./naming";

/*
 * The start order of a stack's services (compose's depends_on), walked once for every
 * reader: settings refuses a cycle, the ECS plan creates services in this order.
 */

export interface Dependant {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

export interface StartOrder {
  /** Names, each after the ones it depends on; ties by name. Partial when there is a cycle. */
  readonly order: readonly string[];
  /** The first cycle found, its first name repeated at the end (`a -> b -> a`). */
  readonly cycle?: readonly string[];
}

/** Walks depends_on depth first; a name no node has is not part of the order. */
export function startOrder(nodes: readonly Dependant[]): StartOrder {
  const deps = new Map(nodes.map((n) => [n.name, n.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const order: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === "done" || !deps.has(name)) return undefined;
    if (state.get(name) === "visiting") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "visiting");
    path.push(name);
    for (const d of deps.get(name) ?? []) {
      const cycle = visit(d);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, "done");
    order.push(name);
    return undefined;
  };
  for (const name of [...deps.keys()].sort()) {
    const cycle = visit(name);
    if (cycle) return { order, cycle };
  }
  return { order };
}

/** The problem a cycle is, in the one wording every reader reports. */
export function cycleProblem(cycle: readonly string[]): string {
  return `${PROJECT}:services: dependsOn forms a cycle ${cycle.join(" -> ")}: expected a start order (depends_on without cycles)`;
}
