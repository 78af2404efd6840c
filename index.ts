import { runtimeFor } from "./components/runtime/select";
import { startSettings, stackSecrets } from "./components/start";
import { checkoutRevision } from "./components/config/compose/source";
import * as pulumi from "@pulumi/pulumi";

// Wiring only. The config is read and validated once, and what would harm data on this
// machine is refused, before any resource exists (components/start.ts); then one
// runtime for the stack's target (components/runtime/select.ts).
const settings = startSettings();
const app = runtimeFor(settings, stackSecrets(settings));

export const endpoints = app.endpoints;
export const volumes = app.volumes;
/** Service → the image it runs (`repo@sha256:...` when pushed); `npm run promote` reads it. */
export const images = app.images;
export const connectionString = app.connectionString;
/**
 * What ran: the layout (compose era or release 0.1), the Panopticon commit and whether
 * the checkout had local changes, and the compose file; `npm run promote` carries it
 * to a stack without a checkout.
 */
export const layout = settings.layout.kind;
export const release = {
  // A checkout is asked (git); a promoted release says where it came from, or nothing.
  source: pulumi.output(
    settings.layout.checkout !== undefined
      ? checkoutRevision(settings.layout.checkout)
      : (settings.layout.release.source ?? { commit: null, dirty: null }),
  ),
  compose: settings.layout.release.compose,
};
export const protection = app.protectionSummary;
/** AWS stacks only: instance id (for SSM), RDS, KMS, EBS and EFS ids (for re-adoption). */
export const aws = app.outputs;
/** ECS stacks with aws.ecs.migrationTask: the one-off migrate-data task (docs/migration.md). */
export const migrationTask = app.migrationTask;
