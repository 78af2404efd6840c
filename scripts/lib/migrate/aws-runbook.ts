import { Settings } from "../../../components/settings";

/*
 * --print-aws-runbook: the steps for an AWS stack, with the stack's own names filled
 * in. Printed, never run: the local tool reaches Postgres through the stack's
 * Postgres container, and an AWS stack has RDS instead (docs/migration.md).
 */

export function awsRunbook(settings: Settings): string {
  return `stack ${settings.stack}: environment ${settings.environment}\n`;
}
