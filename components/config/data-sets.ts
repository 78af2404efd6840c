import type { Environment } from "../protection";
import type { CatalogueData } from "./catalogue";
import { bindPath, DEFAULT_DATA_MOUNT_PATH, ebsDataSetPath, PROJECT, volumeName } from "./naming";
import { dupes, show } from "./problems";
import { didYouMean } from "./suggest";

/*
 * Where each data set lives: the backend chosen for it (storageMode locally,
 * aws.storage on AWS) and the one physical name that backend needs, a Docker volume
 * name or a host directory. Each backend is a variant of its own, so a volume without
 * a name or a host directory without a path cannot be written down.
 */

export type StorageMode = "volume" | "bind";
export type AwsBackend = "efs" | "ebs";

interface DataSetBase {
  /** Data-set key, e.g. `judge`. */
  readonly key: string;
  /** The service whose container mounts it. */
  readonly service: string;
  /** Mount path inside the container: where the service reads its data. */
  readonly mountPath: string;
  /** The variable the program sets to `mountPath`; undefined where the image reads a fixed path. */
  readonly persistEnv?: string;
  readonly uid: number;
  readonly gid: number;
  /** True when the name or directory comes from config (an existing compose-era volume). */
  readonly adopted: boolean;
}

/** A named Docker volume (local `volume`, or `efs`: a volume over NFS). */
interface NamedDataSet extends DataSetBase {
  /** Docker volume name. */
  readonly volumeName: string;
  /** Only host-directory backends have one; declared so every variant can be read alike. */
  readonly hostPath?: undefined;
}

/** A directory on the Docker host (local `bind`, or `ebs`: the EBS disk's mount). */
interface HostDataSet extends DataSetBase {
  /** Absolute host directory. */
  readonly hostPath: string;
  /** Only volume backends have one; declared so every variant can be read alike. */
  readonly volumeName?: undefined;
}

export interface VolumeDataSet extends NamedDataSet {
  readonly backend: "volume";
}
export interface EfsDataSet extends NamedDataSet {
  readonly backend: "efs";
}
export interface BindDataSet extends HostDataSet {
  readonly backend: "bind";
}
export interface EbsDataSet extends HostDataSet {
  readonly backend: "ebs";
}

/** One data set, by backend: `volume`/`bind` locally, `efs`/`ebs` on AWS. */
export type DataSetSettings = VolumeDataSet | EfsDataSet | BindDataSet | EbsDataSet;

/** What decides where the data sets of one stack live. */
export interface Placement {
  readonly project: string;
  readonly stack: string;
  /** Directory relative bind paths resolve against (the project directory). */
  readonly baseDir: string;
  readonly environment: Environment;
  readonly storageMode: StorageMode;
  readonly dataDir: string;
  /** Per data set on AWS (DEFAULT_AWS_BACKENDS under aws.storage); unlisted ones are ebs. */
  readonly awsBackends: Readonly<Record<string, AwsBackend>>;
  /** `panopticon:volumeNames`: existing volumes to mount. */
  readonly volumeNames?: Readonly<Record<string, string>>;
  readonly adoptComposeVolumes?: boolean;
  /** `aws.dataMountPath`: where the EBS disk is mounted. */
  readonly dataMountPath?: string;
}

/**
 * The data set one service mounts, on the backend its stack gives it. Both physical
 * fields are always present (the one the backend lacks is undefined), as readers
 * and records have always seen them.
 */
export function dataSetOf(service: string, data: CatalogueData, p: Placement): DataSetSettings {
  const base = {
    key: data.set,
    service,
    mountPath: data.path,
    persistEnv: data.persistEnv,
    uid: data.uid,
    gid: data.gid,
  };
  const backend = p.environment === "aws" ? (p.awsBackends[data.set] ?? "ebs") : p.storageMode;
  switch (backend) {
    case "volume":
    case "efs": {
      const compose = p.adoptComposeVolumes ? data.composeVolume : undefined;
      const adoptedName = p.volumeNames?.[data.set] ?? compose;
      const name = adoptedName ?? volumeName(p.project, p.stack, data.set);
      return {
        ...base,
        backend,
        volumeName: name,
        hostPath: undefined,
        adopted: adoptedName !== undefined,
      };
    }
    case "bind":
      return {
        ...base,
        backend,
        volumeName: undefined,
        hostPath: bindPath(p.baseDir, p.dataDir, data.bindDir),
        adopted: true,
      };
    case "ebs": {
      const mount = p.dataMountPath ?? DEFAULT_DATA_MOUNT_PATH;
      return {
        ...base,
        backend,
        volumeName: undefined,
        hostPath: ebsDataSetPath(mount, p.stack, data.bindDir),
        adopted: false,
      };
    }
  }
}

/** The config keys that name data sets by key: each must name one that exists. */
function unknownSetProblems(
  at: string,
  entries: Readonly<Record<string, unknown>> | undefined,
  known: readonly string[],
): string[] {
  return Object.keys(entries ?? {})
    .filter((set) => !known.includes(set))
    .map(
      (set) =>
        `${PROJECT}:${at}.${set} = ${show(entries?.[set])}: no data set "${set}" (known: ${known.join(", ")})${didYouMean(set, known)}`,
    );
}

/**
 * Data sets named in config but absent, and physical names two data sets share (one
 * volume or directory mounted by two services would mix their data).
 */
export function dataSetProblems(
  dataSets: readonly DataSetSettings[],
  config: {
    readonly volumeNames?: Readonly<Record<string, string>>;
    readonly awsStorage?: Readonly<Record<string, string>>;
    readonly adoptComposeVolumes?: boolean;
  },
  problems: string[],
): void {
  const known = dataSets.map((d) => d.key);
  problems.push(...unknownSetProblems("volumeNames", config.volumeNames, known));
  problems.push(...unknownSetProblems("aws.storage", config.awsStorage, known));
  dupes(dataSets, (d) => d.key, "data set", problems);
  dupes(
    dataSets,
    (d) => d.volumeName,
    "volume name",
    problems,
    (d) =>
      config.volumeNames?.[d.key] !== undefined
        ? `${PROJECT}:volumeNames.${d.key}`
        : `data set "${d.key}"${config.adoptComposeVolumes ? ` (${PROJECT}:adoptComposeVolumes)` : ""}`,
  );
  dupes(dataSets, (d) => d.hostPath, "host directory", problems);
}
