import Table from "cli-table3";
import { DataSetStatus, ServiceStatus, StackStatus } from "./status";

/* The screen `npm run status` prints: a header line, a services table, a data table. */

/** "40 s", "3 min", "5 h 02 min", "2 d 4 h": the age of a backup. */
export function formatAge(seconds: number): string {
  const m = Math.floor(seconds / 60);
  if (m < 1) return `${seconds} s`;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A digest-pinned reference shortened to fit a terminal: `repo:tag@sha256:8508b7a40e53…`. */
export function shortImage(ref: string): string {
  return ref.replace(/@sha256:([a-f0-9]{12})[a-f0-9]{52}$/, "@sha256:$1…");
}

function table(head: string[]): Table.Table {
  // No colours (the output also lands in logs and issues); no rule between rows.
  return new Table({
    head,
    style: { head: [], border: [], compact: true },
  });
}

function image(x: ServiceStatus): string {
  if (x.image !== null) return shortImage(x.image);
  return x.configuredImage !== null
    ? `${shortImage(x.configuredImage)} (configured)`
    : "built from appSource";
}

function where(d: DataSetStatus): string {
  const size = !d.exists ? "missing" : (d.size ?? "size unknown");
  return `${d.backend === "volume" ? "volume" : "dir"} ${d.location}${d.adopted ? " (adopted)" : ""}, ${size}`;
}

function teardown(d: DataSetStatus): string {
  if (!d.keptOnTeardown) return "DELETED";
  return /protect/.test(d.keptBecause)
    ? "kept (protect)"
    : d.backend === "bind"
      ? "kept (directory)"
      : "kept (retained)";
}

function backup(d: DataSetStatus): string {
  const b = d.newestBackup;
  if (b === null) return "none";
  return `${b.dir}${b.kind === "pg_dump" ? " (pg_dump)" : ""}, ${formatAge(b.ageSeconds)} ago`;
}

export function renderStatus(s: StackStatus): string {
  const lines: string[] = [];
  if (!s.deployed) {
    lines.push(
      `stack ${s.stack} has never been deployed on this Docker engine (or was purged): no ` +
        `container, network or volume of it exists. Deploy it with ./scripts/deploy.sh ${s.stack}`,
    );
    const found = s.dataSets.filter((d) => d.exists).length;
    lines.push(
      found === 0
        ? "Its data would live here:"
        : `Its data lives here (${found} of ${s.dataSets.length} data sets exist already, e.g. adopted directories):`,
    );
  } else {
    const running = s.services.filter((x) => x.state === "running").length;
    lines.push(
      `stack ${s.stack} (${s.storageMode} mode): ${running} of ${s.services.length} services ` +
        `running; network ${s.network.name} ${s.network.exists ? "present" : "missing"}`,
    );
    const services = table(["service", "state", "health", "image"]);
    for (const x of s.services) services.push([x.service, x.state, x.health ?? "-", image(x)]);
    lines.push(services.toString());
  }
  const data = table(["data set", "where, size", "teardown", "newest backup"]);
  for (const d of s.dataSets) data.push([d.dataSet, where(d), teardown(d), backup(d)]);
  lines.push(data.toString());
  const notes = [`backups read from ${s.backupsDir}`];
  if (s.incompleteBackups > 0)
    notes.push(
      `${s.incompleteBackups} incomplete backup(s) of this stack ignored (no manifest.json)`,
    );
  lines.push(notes.join("; "));
  return `${lines.join("\n")}\n`;
}
