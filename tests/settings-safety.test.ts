import * as fc from "fast-check";
import {
  badMountPath,
  imageRefProblem,
  openCidrs,
  systemDirectory,
} from "../components/config/safety";

/* The pure checks behind the dangerous-value rows of tests/bad-input.test.ts, each with its twin. */

const segment = fc.stringMatching(/^[a-z0-9_-]{1,12}$/);

describe("systemDirectory", () => {
  it("refuses / and the system directories, and anything inside the system trees", () => {
    for (const d of ["/", "/etc", "/usr/", "/var/lib", "/home", "/tmp", "/boot", "/proc", "/sys"]) {
      expect(systemDirectory(d)).toBeDefined();
    }
    fc.assert(
      fc.property(
        fc.constantFrom("/etc", "/usr", "/var/lib/docker", "/dev", "/sys"),
        segment,
        (t, s) => {
          expect(systemDirectory(`${t}/${s}`)).toMatch(new RegExp(`inside ${t}, which belongs`));
        },
      ),
    );
  });

  it("accepts a directory of its own below the roots that may hold one", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("/srv", "/home", "/mnt", "/var/lib", "/tmp", "/opt"),
        segment,
        (r, s) => {
          expect(systemDirectory(`${r}/${s}`)).toBeUndefined();
        },
      ),
    );
    expect(systemDirectory("/var/lib/docker-data")).toBeUndefined();
  });
});

describe("badMountPath", () => {
  it("refuses / and the image's own system directories, accepts a directory of the app", () => {
    expect(badMountPath("/")).toMatch(/hide the image's own files/);
    expect(badMountPath("/usr/")).toMatch(/hide the image's own \/usr/);
    expect(badMountPath("/app/judge_service_data")).toBeUndefined();
    expect(badMountPath("/usr-data")).toBeUndefined();
  });
});

describe("imageRefProblem", () => {
  it("needs a tag or a full digest", () => {
    for (const ok of [
      "postgres:15",
      "localhost:5000/app:1.2",
      `ghcr.io/a/b@sha256:${"0".repeat(64)}`,
      `ghcr.io/a/b:1.0@sha256:${"f".repeat(64)}`,
    ]) {
      expect(imageRefProblem(ok)).toBeUndefined();
    }
    for (const bad of ["postgres", "localhost:5000/app", "app@sha256:abc", "app:", "app:1:2"]) {
      expect(imageRefProblem(bad)).toBeDefined();
    }
  });
});

describe("openCidrs", () => {
  it("finds /0 at any depth and names its key; narrower ranges and plain addresses pass", () => {
    expect(
      openCidrs({
        a: { b: ["10.0.0.0/8", "0.0.0.0/0"] },
        c: "::/0",
        d: "0.0.0.0",
        e: "10.0.0.0/0x",
      }),
    ).toEqual([
      ["a.b.1", "0.0.0.0/0"],
      ["c", "::/0"],
    ]);
    expect(openCidrs({ bindAddress: "0.0.0.0", vpcCidr: "10.42.0.0/16" })).toEqual([]);
  });
});
