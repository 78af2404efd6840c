/*
 * Validates GitHub Actions workflow files with GitHub's own parser
 * (@actions/workflow-parser, the one behind the Actions VS Code extension):
 * schema, keys, expressions, contexts, needs, matrix, concurrency.
 *
 *   npx tsx scripts/guard/workflow-lint.mts .github/workflows/*.yml
 *
 * Prints one JSON object {file: [errors]} and exits 1 if any file has errors.
 * It is an ES module run through tsx because the parser is ESM-only and imports
 * its schema JSON without import attributes, which plain Node and Jest refuse.
 */
import { readFileSync } from "node:fs";
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow,
} from "@actions/workflow-parser";

const result: Record<string, string[]> = {};
for (const name of process.argv.slice(2)) {
  const parsed = parseWorkflow(
    { name, content: readFileSync(name, "utf8") },
    new NoOperationTraceWriter(),
  );
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (errors.length === 0 && parsed.value !== undefined) {
    const template = await convertWorkflowTemplate(parsed.context, parsed.value);
    for (const e of template.errors ?? []) errors.push(e.Message);
  } else if (parsed.value === undefined && errors.length === 0) {
    errors.push(`${name}: not a workflow document`);
  }
  result[name] = [...new Set(errors)];
}
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
process.exitCode = Object.values(result).some((e) => e.length > 0) ? 1 : 0;
