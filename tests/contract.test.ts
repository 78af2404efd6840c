import * as fs from "fs";
import * as path from "path";
import { LABELS, OUTPUTS, RESOURCE_TYPES } from "../components/contract";
import { cliStackConfig, ProgramRun, runProgram } from "./support/harness";
import { Registration } from "./support/registrations";

/*
 * The program and its tools share components/contract.ts: the labels the program
 * writes on containers, the outputs it exports and the resource types it registers
 * are the ones the guard, promote, the data tools and the policy pack read. The dev
 * program runs under mocks; the resource types are held to the registrations of every
 * stack (tests/fixtures/registrations, which registration-identity holds to the program).
 * A doctored run (a renamed label, a renamed output) must be caught.
 */

jest.setTimeout(60_000);

const SECRETS = { postgresPassword: "contractTestPassw0rd1", apiKey: "contract-api-key-1" };
const RECORDS = path.join(__dirname, "fixtures", "registrations");

interface Written {
  /** Every label key on every container the program registers. */
  readonly labels: ReadonlySet<string>;
  /** The program's export names. */
  readonly outputs: ReadonlySet<string>;
}

function written(run: ProgramRun): Written {
  const labels = new Set<string>();
  for (const c of run.byType(RESOURCE_TYPES.dockerContainer)) {
    const ls = (c.plainInputs.labels as Array<{ label: string }> | undefined) ?? [];
    for (const l of ls) labels.add(l.label);
  }
  return { labels, outputs: new Set(Object.keys(run.outputs)) };
}

/** What differs between what the program writes and the contract, one line each. */
function contractProblems(w: Written): string[] {
  const problems: string[] = [];
  const contractLabels = new Set<string>(Object.values(LABELS));
  for (const l of w.labels) {
    if (l.startsWith("com.panopticon.") && !contractLabels.has(l)) {
      problems.push(`label ${l}: written by the program, absent from LABELS`);
    }
  }
  for (const l of contractLabels) {
    if (!w.labels.has(l)) problems.push(`label ${l}: in LABELS, written on no container`);
  }
  const contractOutputs = new Set<string>(Object.values(OUTPUTS));
  for (const o of w.outputs) {
    if (!contractOutputs.has(o)) problems.push(`output ${o}: exported, absent from OUTPUTS`);
  }
  for (const o of contractOutputs) {
    if (!w.outputs.has(o)) problems.push(`output ${o}: in OUTPUTS, not exported`);
  }
  return problems.sort();
}

function registeredTypes(): Set<string> {
  const types = new Set<string>();
  for (const f of fs.readdirSync(RECORDS).filter((x) => x.endsWith(".json"))) {
    const records = JSON.parse(fs.readFileSync(path.join(RECORDS, f), "utf8")) as Registration[];
    // urn:pulumi:<stack>::<project>::<parent types $ ...>$<type>::<name>
    for (const r of records) types.add(r.urn.split("::")[2].split("$").pop()!);
  }
  return types;
}

describe("the program writes what components/contract.ts says", () => {
  let dev: Written;
  beforeAll(async () => {
    const run = await runProgram({ stack: "dev", config: cliStackConfig("dev"), secrets: SECRETS });
    if (run.error) throw run.error;
    dev = written(run);
  });

  it("every container label and every export of the dev program is in the contract, and back", () => {
    expect(dev.labels.size).toBeGreaterThan(0);
    expect(contractProblems(dev)).toEqual([]);
  });

  it("its broken twin: a renamed label and a renamed output are named", () => {
    const labels = new Set([...dev.labels].filter((l) => l !== LABELS.dataSet));
    labels.add("com.panopticon.dataset");
    const outputs = new Set([...dev.outputs].filter((o) => o !== OUTPUTS.images));
    outputs.add("image");
    expect(contractProblems({ labels, outputs })).toEqual([
      "label com.panopticon.data-set: in LABELS, written on no container",
      "label com.panopticon.dataset: written by the program, absent from LABELS",
      "output image: exported, absent from OUTPUTS",
      "output images: in OUTPUTS, not exported",
    ]);
  });

  it("every resource type the tools match on is one some stack registers", () => {
    const types = registeredTypes();
    expect(types.size).toBeGreaterThan(20);
    expect(Object.values(RESOURCE_TYPES).filter((t) => !types.has(t))).toEqual([]);
    // The check can fail: a misspelt token is not registered by any stack.
    expect(types.has("docker:index/container:Containers")).toBe(false);
  });
});
