import { RecordedResource } from "./harness";
import { CONTAINER, IMAGE } from "./rules";

/*
 * Safety rules of the image pipeline as checks over what reached the engine, each
 * returning its violations: built images run by id or pushed digest, ECR
 * repositories safe for promoted digests, the Docker host pulling only. Tests run
 * them on real program runs (expect none) and on broken twins (expect the violation).
 */

export const BUILD = "docker-build:index:Image";
export const ECR_REPO = "aws:ecr/repository:Repository";
export const ECR_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
export const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

type Rule = (resources: readonly RecordedResource[]) => string[];

const byUrn = (resources: readonly RecordedResource[], urn: string) =>
  resources.find((r) => r.urn === urn);

/** The RemoteImage a container's `image` input comes from. */
export function imageOfContainer(
  resources: readonly RecordedResource[],
  c: RecordedResource,
): RecordedResource | undefined {
  return c.dependencies.map((u) => byUrn(resources, u)).find((r) => r?.type === IMAGE);
}

/** The build resource a RemoteImage reads (its name or triggers come from it). */
export function buildOfImage(
  resources: readonly RecordedResource[],
  img: RecordedResource,
): RecordedResource | undefined {
  return img.dependencies.map((u) => byUrn(resources, u)).find((r) => r?.type === BUILD);
}

/** Built images: never rebuilt on preview by default; re-read when the build ran. */
export function buildsSafe(buildOnPreview = false): Rule {
  return (resources) =>
    resources
      .filter((r) => r.type === BUILD)
      .flatMap((b) => {
        const i = b.plainInputs;
        const out: string[] = [];
        if (i.buildOnPreview !== buildOnPreview)
          out.push(`${b.name}: buildOnPreview ${i.buildOnPreview}, expected ${buildOnPreview}`);
        if (!b.retainOnDelete)
          out.push(`${b.name}: not retained: deleting the build would delete its pushed image`);
        if (i.registries !== undefined)
          out.push(`${b.name}: registry credentials in the inputs change every run (ECR tokens)`);
        if (!(i.buildArgs as Record<string, string> | undefined)?.SOURCE_DATE_EPOCH)
          out.push(`${b.name}: no SOURCE_DATE_EPOCH: an unchanged rebuild would get a new digest`);
        const img = resources.find(
          (r) => r.type === IMAGE && buildOfImage(resources, r)?.urn === b.urn,
        );
        if (img === undefined) out.push(`${b.name}: no RemoteImage reads the built image`);
        else if (!((img.plainInputs.pullTriggers as unknown[] | undefined) ?? []).length)
          out.push(`${img.name}: no pullTriggers: a rebuild would not be read again`);
        return out;
      });
}

/** With a registry, every built service's container runs `<registry>/<service>@sha256:...`. */
export function pushedDigestsRun(registry: string): Rule {
  return (resources) =>
    resources
      .filter((r) => r.type === CONTAINER && r.plainInputs.restart === "unless-stopped")
      .flatMap((c) => {
        const img = imageOfContainer(resources, c);
        if (img === undefined || buildOfImage(resources, img) === undefined) return [];
        const name = String(img.plainInputs.name);
        const svc = String(c.plainInputs.name).replace(/^panopticon-[^-]+-/, "");
        const want = new RegExp(
          `^${registry.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/${svc}@sha256:[0-9a-f]{64}$`,
        );
        return want.test(name)
          ? []
          : [`${c.name}: runs ${JSON.stringify(name)}, not a pushed digest`];
      });
}

/** ECR repositories: immutable tags, scan on push, the stack's KMS key, protected and retained. */
export function ecrRepositoriesSafe(kmsArn: RegExp): Rule {
  return (resources) =>
    resources
      .filter((r) => r.type === ECR_REPO)
      .flatMap((r) => {
        const i = r.plainInputs;
        const out: string[] = [];
        if (i.imageTagMutability !== "IMMUTABLE")
          out.push(`${r.name}: imageTagMutability ${JSON.stringify(i.imageTagMutability)}`);
        if (
          (i.imageScanningConfiguration as { scanOnPush?: boolean } | undefined)?.scanOnPush !==
          true
        )
          out.push(`${r.name}: scanOnPush is not true`);
        const enc = (i.encryptionConfigurations as Array<Record<string, string>> | undefined)?.[0];
        if (enc?.encryptionType !== "KMS" || !kmsArn.test(String(enc?.kmsKey)))
          out.push(`${r.name}: not encrypted with the stack's KMS key (${JSON.stringify(enc)})`);
        if (i.forceDelete === true) out.push(`${r.name}: forceDelete would delete its images`);
        if (!r.protect) out.push(`${r.name}: not protected`);
        if (!r.retainOnDelete) out.push(`${r.name}: not retained on delete`);
        return out;
      });
}

/** Each repository has a lifecycle policy keeping exactly the last `count` images. */
export function ecrLifecycleKeeps(count: number): Rule {
  return (resources) => {
    const repos = resources.filter((r) => r.type === ECR_REPO);
    const policies = resources.filter((r) => r.type === ECR_LIFECYCLE);
    return repos.flatMap((repo) => {
      const p = policies.find((x) => x.plainInputs.repository === repo.plainInputs.name);
      if (p === undefined) return [`${repo.name}: no lifecycle policy`];
      const rules = (
        JSON.parse(String(p.plainInputs.policy)) as { rules: Array<Record<string, any>> }
      ).rules;
      const keep = rules.find((x) => x.action?.type === "expire");
      const sel = keep?.selection ?? {};
      return sel.tagStatus === "any" &&
        sel.countType === "imageCountMoreThan" &&
        sel.countNumber === count
        ? []
        : [
            `${repo.name}: lifecycle keeps ${JSON.stringify(sel)}, expected the last ${count} images`,
          ];
    });
  };
}

const PULL = new Set([
  "ecr:BatchCheckLayerAvailability",
  "ecr:BatchGetImage",
  "ecr:GetDownloadUrlForLayer",
]);

/** The Docker host's role may pull from the stack's repositories, and do nothing else with ECR. */
export function hostPullsOnly(hostRoleName: string): Rule {
  return (resources) => {
    const repoArns = resources
      .filter((r) => r.type === ECR_REPO)
      .map((r) => `arn:aws:ecr:eu-west-1:123456789012:repository/${r.plainInputs.name}`);
    const grants = resources.filter(
      (r) => r.type === ROLE_POLICY && r.plainInputs.role === hostRoleName,
    );
    if (repoArns.length > 0 && grants.length === 0) return ["the host role has no pull grant"];
    return grants.flatMap((g) => {
      const doc = JSON.parse(String(g.plainInputs.policy)) as {
        Statement: Array<{
          Effect: string;
          Action: string | string[];
          Resource: string | string[];
        }>;
      };
      return doc.Statement.flatMap((st) => {
        const actions = ([] as string[]).concat(st.Action);
        const res = ([] as string[]).concat(st.Resource);
        if (actions.length === 1 && actions[0] === "ecr:GetAuthorizationToken") return [];
        const extra = actions.filter((a) => !PULL.has(a));
        const wide = res.filter((x) => !repoArns.includes(x));
        return [
          ...extra.map((a) => `${g.name}: grants ${a}, which is more than pulling`),
          ...wide.map((x) => `${g.name}: pull on ${x}, not one of the stack's repositories`),
        ];
      });
    });
  };
}
