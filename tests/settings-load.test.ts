import { spawnSync } from "child_process";
import * as path from "path";

/*
 * backup, restore, doctor and pg-upgrade read the stack through the settings code.
 * Loading it must not load the Pulumi SDK or a provider (half a second of every
 * command's start, measured by npm run bench:data): settings stay pure.
 */

it("the data tools' stack loading pulls in no @pulumi package", () => {
  const script =
    'require("./scripts/lib/stack"); require("./scripts/lib/backup-core");' +
    "const p = Object.keys(require.cache).filter((k) => k.includes(`node_modules${require('path').sep}@pulumi`));" +
    "process.stdout.write(JSON.stringify(p.map((k) => k.split('node_modules')[1]).slice(0, 5)));";
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: path.join(__dirname, ".."),
    encoding: "utf8",
  });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual([]);
});
