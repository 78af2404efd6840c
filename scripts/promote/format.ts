import { displayKey, PROMOTABLE } from "./promotable";
import type { Plan, StackView } from "./plan";
import { describeRelease } from "./release";

/* How promote prints its plan (plan.ts decides it). */

function show(v: string | undefined): string {
  return v === undefined ? "(unset)" : JSON.stringify(v);
}

/** The diff as the command prints it, one line per change. */
export function formatPlan(plan: Plan, source: StackView, target: StackView): string[] {
  const lines = [
    `promote ${source.stack} -> ${target.stack} (${source.fileName} -> ${target.fileName})`,
  ];
  const { layout, release } = plan;
  if (layout !== undefined) {
    lines.push(
      `release: Panopticon ${describeRelease(layout.release)}, ${layout.services.length} services: ${layout.services.join(", ")}`,
    );
  }
  if (release !== undefined) {
    lines.push(
      release.from === undefined
        ? `+ ${PROMOTABLE.releaseKey}: ${describeRelease(release.to)} (the layout ${target.stack} runs; it had none)`
        : `~ ${PROMOTABLE.releaseKey}: ${describeRelease(release.from)} -> ${describeRelease(release.to)}`,
    );
  }
  for (const n of layout?.added ?? []) {
    lines.push(`+ service ${n}: new in this release`);
  }
  for (const n of layout?.removed ?? []) {
    lines.push(
      `- service ${n}: not in this release any more` +
        (plan.removedBlocks.has(n)
          ? `: its block leaves ${target.fileName}`
          : `: its image and env leave ${target.fileName}, its other settings stay`),
    );
  }
  for (const c of plan.changes) {
    const key = displayKey(c.service, c.field, c.envKey);
    if (c.op === "~") lines.push(`~ ${key}: ${show(c.from)} -> ${show(c.to)}`);
    else if (c.op === "+") lines.push(`+ ${key}: ${show(c.to)}`);
    else lines.push(`- ${key}: ${show(c.from)}`);
  }
  for (const s of plan.skipped) {
    lines.push(`  skipped ${PROMOTABLE.servicesKey}.${s.service}: ${s.reason}`);
  }
  for (const n of plan.targetOnly) {
    lines.push(
      `  left alone ${PROMOTABLE.servicesKey}.${n}: only ${target.fileName} has this service`,
    );
  }
  return lines;
}
