import { spawnSync } from "child_process";
import { dockerVolumeExists } from "../components/unmigrated";

/* The preview refusal's engine probe, on the real engine: the volume there, then gone. */

const name = `panopticon-probe${process.pid}-query-data`;
const docker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" });
afterAll(() => docker("volume", "rm", "-f", name));

test("dockerVolumeExists sees a volume the engine has, and not one it lacks", () => {
  expect(docker("volume", "create", name).status).toBe(0);
  expect(dockerVolumeExists(name)).toBe(true);
  expect(docker("volume", "rm", name).status).toBe(0);
  expect(dockerVolumeExists(name)).toBe(false);
});

test("with PANOPTICON_ENGINE_PROBE=off it cannot tell, and says so (undefined)", () => {
  process.env.PANOPTICON_ENGINE_PROBE = "off";
  try {
    expect(dockerVolumeExists(name)).toBeUndefined();
  } finally {
    delete process.env.PANOPTICON_ENGINE_PROBE;
  }
});
