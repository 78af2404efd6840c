import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/*
 * The backups taken before a risky update sit between the guard and `pulumi up`:
 * dev backs up the data of services whose image changes, prod snapshots the EBS
 * data disk and RDS.
 */

interface Step {
  name?: string;
  id?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
const load = (f: string) =>
  parse(fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", f), "utf8")) as {
    jobs: Record<string, { steps: Step[] }>;
  };

describe("pre-change backups in the workflows", () => {
  it("dev: guard, then backup:before-change on the same preview, kept as an artifact, then up", () => {
    const steps = load("deploy-dev.yml").jobs.up.steps;
    const guard = steps.findIndex((s) => /npm run --silent guard/.test(s.run ?? ""));
    const backup = steps.findIndex((s) =>
      /npm run --silent backup:before-change/.test(s.run ?? ""),
    );
    const keep = steps.findIndex((s) => s.uses === "actions/upload-artifact@v4");
    const up = steps.findIndex((s) => s.with?.command === "up");
    expect(guard).toBeGreaterThan(-1);
    expect(backup).toBeGreaterThan(guard);
    expect(keep).toBeGreaterThan(backup);
    expect(up).toBeGreaterThan(keep);
    expect(steps[backup].run).toMatch(/--preview "\$RUNNER_TEMP\/preview\.json"/);
    expect(steps[keep].if).toBe("steps.pre-change.outputs.dir != ''");
  });

  it("prod: the last guard, then EBS and RDS snapshots, then up", () => {
    const steps = load("promote-prod.yml").jobs.update.steps;
    const guard = steps.findIndex((s) => /npm run --silent guard/.test(s.run ?? ""));
    const snap = steps.findIndex((s) => /aws ec2 create-snapshot/.test(s.run ?? ""));
    const up = steps.findIndex((s) => s.with?.command === "up");
    expect(snap).toBeGreaterThan(guard);
    expect(up).toBe(snap + 1);
    expect(steps[snap].run).toMatch(/aws rds create-db-snapshot --db-instance-identifier "\$db"/);
    expect(steps[snap].run).toMatch(/aws rds wait db-snapshot-available/);
  });
});
