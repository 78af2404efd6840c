import { RESOURCE_TYPES } from "../../components/contract";
import { STATEFUL_LABELS, StatefulType } from "../../policy/stateful";
import { CLASSIFICATION_LABEL, dataAtRisk, Report, Verdict } from "./types";

/*
 * Renders a guard report as terminal text (default) or as a pull-request
 * comment (`--markdown`, one table per stack).
 */

/** Marks the guard's PR comment so CI can update it instead of adding another. */
export const COMMENT_MARKER = "<!-- panopticon-guard -->";

/** Non-stateful types the guard reports on for their data bindings (scripts/guard/bindings.ts). */
const BINDING_LABELS: Record<string, string> = {
  [RESOURCE_TYPES.dockerContainer]: "container",
  [RESOURCE_TYPES.ebsAttachment]: "EBS attachment",
  [RESOURCE_TYPES.ec2Instance]: "Docker host data mount",
  [RESOURCE_TYPES.efsAccessPoint]: "EFS access point",
  [RESOURCE_TYPES.ecsTaskDefinition]: "ECS task definition",
};

const label = (type: string): string =>
  STATEFUL_LABELS[type as StatefulType] ?? BINDING_LABELS[type] ?? type;

function stacksOf(report: Report): string[] {
  return [
    ...new Set([...report.verdicts.map((v) => v.stack), ...Object.keys(report.otherChanges)]),
  ].sort();
}

function status(v: Verdict): string {
  if (v.atRisk && v.allowed) return "accepted";
  if (v.atRisk) return "AT RISK";
  return "safe";
}

function summary(report: Report): string {
  const risky = report.verdicts.filter((v) => v.atRisk && !v.allowed).length;
  const accepted = report.verdicts.filter((v) => v.atRisk && v.allowed).length;
  const acceptedText = accepted > 0 ? `; ${accepted} accepted with --allow` : "";
  if (report.incomplete.length > 0 && risky === 0) {
    return `cannot confirm that no data is at risk: the input is incomplete${acceptedText}`;
  }
  if (risky > 0) {
    return `DATA AT RISK: ${risky} resource${risky === 1 ? "" : "s"} would lose or detach data${acceptedText}`;
  }
  return `no data at risk${acceptedText}`;
}

function what(report: Report): string {
  return report.mode === "state" ? "pulumi destroy" : "this preview";
}

function otherLine(counts: Readonly<Record<string, number>> | undefined): string | undefined {
  if (!counts || Object.keys(counts).length === 0) return undefined;
  return Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, n]) => `${n} ${op}`)
    .join(", ");
}

export function renderText(report: Report): string {
  const out: string[] = [];
  const stacks = stacksOf(report);
  if (stacks.length === 0) out.push(`No stateful resource is touched by ${what(report)}.`);
  for (const stack of stacks) {
    const vs = report.verdicts.filter((v) => v.stack === stack);
    out.push(
      `Stack ${stack}: what ${what(report)} does to ${vs.length} stateful resource(s) and data binding(s)`,
    );
    for (const v of vs) {
      out.push(
        `  ${status(v).padEnd(8)} ${CLASSIFICATION_LABEL[v.classification].padEnd(22)} ${label(v.type)} "${v.name}"`,
      );
      out.push(`           ${v.detail}`);
      out.push(`           ${v.urn}`);
    }
    const other = otherLine(report.otherChanges[stack]);
    if (other) out.push(`  other (stateless) changes: ${other}`);
  }
  for (const m of report.incomplete) out.push(`INCOMPLETE: ${m}`);
  for (const p of report.policyViolations) {
    out.push(`POLICY [${p.level}] ${p.policy}${p.urn ? ` (${p.urn})` : ""}: ${p.message}`);
  }
  for (const n of report.notes) out.push(`note: ${n}`);
  out.push(`Verdict: ${summary(report)}.`);
  return out.join("\n") + "\n";
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

export function renderMarkdown(report: Report): string {
  const out: string[] = [COMMENT_MARKER];
  const risk = dataAtRisk(report);
  out.push(`### ${risk ? ":warning:" : ":white_check_mark:"} Data safety: ${summary(report)}`);
  out.push("");
  const stacks = stacksOf(report);
  if (stacks.length === 0) out.push(`No stateful resource is touched by ${what(report)}.`);
  for (const stack of stacks) {
    const vs = report.verdicts.filter((v) => v.stack === stack);
    out.push(`#### Stack \`${stack}\``);
    out.push("");
    if (vs.length > 0) {
      out.push("| Data | Change | Resource | Why |");
      out.push("| --- | --- | --- | --- |");
      for (const v of vs) {
        const mark =
          v.atRisk && !v.allowed
            ? ":x: **at risk**"
            : v.atRisk
              ? ":ballot_box_with_check: accepted"
              : ":white_check_mark: safe";
        out.push(
          `| ${mark} | ${CLASSIFICATION_LABEL[v.classification]} | ${cell(label(v.type))} \`${cell(v.name)}\` | ${cell(v.detail)} |`,
        );
      }
      out.push("");
    } else {
      out.push("No stateful resource changes.");
      out.push("");
    }
    const other = otherLine(report.otherChanges[stack]);
    if (other) {
      out.push(`Other (stateless) changes: ${other}.`);
      out.push("");
    }
  }
  if (report.incomplete.length > 0) {
    out.push("**Incomplete input:**");
    for (const m of report.incomplete) out.push(`- ${cell(m)}`);
    out.push("");
  }
  if (report.policyViolations.length > 0) {
    out.push("**Policy violations:**");
    for (const p of report.policyViolations) {
      out.push(
        `- \`${p.policy}\` (${p.level})${p.urn ? ` on \`${p.urn}\`` : ""}: ${cell(p.message)}`,
      );
    }
    out.push("");
  }
  for (const n of report.notes) out.push(`> ${cell(n)}`);
  if (risk) {
    out.push(
      "To accept a listed risk deliberately, re-run the guard with `--allow <URN>` for that resource.",
    );
  }
  return out.join("\n").trimEnd() + "\n";
}
