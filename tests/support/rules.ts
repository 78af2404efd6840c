import { LABELS } from "../../components/contract";
import { plainStrings, RecordedResource } from "./harness";

/*
 * The local stack's safety rules as checks over what reached the engine. Each
 * returns the violations it finds; tests run them on real program runs (expect
 * none) and on doctored recordings (expect the violation), so no check can
 * pass without looking.
 */

export const VOLUME = "docker:index/volume:Volume";
export const CONTAINER = "docker:index/container:Container";
export const IMAGE = "docker:index/remoteImage:RemoteImage";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/;

type Rule = (resources: readonly RecordedResource[]) => string[];

/** Long-running service containers (not the one-shot directory initialisers). */
export function serviceContainers(resources: readonly RecordedResource[]): RecordedResource[] {
  return resources.filter(
    (r) => r.type === CONTAINER && r.plainInputs.restart === "unless-stopped",
  );
}

/** Every Docker volume survives `pulumi destroy` and is never replaced by a routine diff. */
export const volumesRetained: Rule = (resources) =>
  resources
    .filter((r) => r.type === VOLUME)
    .flatMap((v) => [
      ...(v.retainOnDelete ? [] : [`${v.name}: retainOnDelete is not set`]),
      ...(v.deleteBeforeReplace ? [`${v.name}: deleteBeforeReplace on a data volume`] : []),
      ...["labels", "driverOpts"]
        .filter((f) => !v.ignoreChanges.includes(f))
        .map((f) => `${v.name}: ${f} changes would replace the volume (not in ignoreChanges)`),
    ]);

/** Physical names (volumes, containers, network) carry the stack. */
export function stackScopedNames(stack: string, adopted: readonly string[] = []): Rule {
  return (resources) =>
    resources
      .filter((r) => r.custom && r.type.startsWith("docker:index/") && r.type !== IMAGE)
      .filter((r) => typeof r.plainInputs.name === "string")
      .filter((r) => !adopted.includes(r.plainInputs.name as string))
      .filter((r) => !(r.plainInputs.name as string).startsWith(`panopticon-${stack}-`))
      .map((r) => `${r.name}: physical name ${JSON.stringify(r.plainInputs.name)} lacks the stack`);
}

/** Published ports bind to loopback only. */
export const loopbackPorts: Rule = (resources) =>
  resources
    .filter((r) => r.type === CONTAINER)
    .flatMap((c) =>
      ((c.plainInputs.ports as Array<Record<string, unknown>> | undefined) ?? [])
        .filter((p) => !LOOPBACK.test(String(p.ip ?? "0.0.0.0")))
        .map((p) => `${c.name}: port ${p.external} published on ${p.ip ?? "all interfaces"}`),
    );

/** A secret value never appears in plain text in any input of any resource. */
export function noPlainSecret(secret: string): Rule {
  return (resources) =>
    resources.flatMap((r) =>
      plainStrings(r.inputs)
        .filter((s) => s.includes(secret))
        .map(() => `${r.name}: the secret appears in plain text`),
    );
}

/** Containers stop gracefully, restart unless stopped, keep bounded logs, pin image ids. */
export const wellRunContainers: Rule = (resources) =>
  serviceContainers(resources).flatMap((c) => {
    const i = c.plainInputs;
    const out: string[] = [];
    if (!(Number(i.stopTimeout) >= 60)) out.push(`${c.name}: stopTimeout ${i.stopTimeout} < 60`);
    if (!(Number(i.destroyGraceSeconds) >= 60))
      out.push(`${c.name}: destroyGraceSeconds ${i.destroyGraceSeconds} < 60`);
    if (typeof i.image !== "string" || !i.image.startsWith("sha256:"))
      out.push(`${c.name}: image ${JSON.stringify(i.image)} is not a RemoteImage.imageId`);
    if (!i.logDriver || !i.logOpts) out.push(`${c.name}: no explicit log options`);
    const hc = i.healthcheck as { tests?: string[] } | undefined;
    if (!hc?.tests?.length) out.push(`${c.name}: no healthcheck`);
    if (!c.replaceOnChanges.includes("healthcheck"))
      out.push(`${c.name}: healthcheck changes would never be applied`);
    if (!c.deleteBeforeReplace) out.push(`${c.name}: fixed name without deleteBeforeReplace`);
    const envs = i.envs as string[] | undefined;
    if (envs && envs.join("\n") !== [...envs].sort().join("\n"))
      out.push(`${c.name}: env not in a deterministic order`);
    return out;
  });

/** Images are kept on destroy: a restore may need them. */
export const imagesKeptLocally: Rule = (resources) =>
  resources
    .filter((r) => r.type === IMAGE && r.plainInputs.keepLocally !== true)
    .map((r) => `${r.name}: keepLocally is not true`);

export const LOCAL_RULES: Record<string, Rule> = {
  volumesRetained,
  loopbackPorts,
  wellRunContainers,
  imagesKeptLocally,
};

/** The variables through which Panopticon's services (and Postgres) find their data. */
export const PERSIST_VARIABLES = [
  "CHROMA_PERSIST_DIRECTORY",
  "EVALUATION_PERSIST_DIRECTORY",
  "JUDGE_PERSIST_DIRECTORY",
  "PGDATA",
];

/**
 * Data is where the app reads it: a persist variable equals a mount target (else the
 * service starts empty, or writes into its container layer), and a container labelled
 * with a data set mounts it.
 */
export const dataWhereRead: Rule = (resources) =>
  serviceContainers(resources).flatMap((c) => {
    const mounts = (c.plainInputs.mounts as Array<{ target: string }> | undefined) ?? [];
    const targets = mounts.map((m) => m.target);
    const env = (c.plainInputs.envs as string[] | undefined) ?? [];
    const labels = (c.plainInputs.labels as Array<{ label: string }> | undefined) ?? [];
    const out: string[] = [];
    for (const line of env) {
      const k = line.slice(0, line.indexOf("="));
      const v = line.slice(line.indexOf("=") + 1);
      if (PERSIST_VARIABLES.includes(k) && !targets.includes(v)) {
        out.push(
          `${c.name}: ${k} = ${JSON.stringify(v)} but the data set is mounted at ${JSON.stringify(targets[0] ?? "(nothing)")}`,
        );
      }
    }
    if (labels.some((l) => l.label === LABELS.dataSet) && mounts.length === 0) {
      out.push(`${c.name}: labelled with a data set but mounts nothing`);
    }
    return out;
  });
