import { Command, CommanderError } from "commander";
import { killChildren } from "./docker";
import { EXIT, EXIT_SIGNAL, exitCodeOf, ToolError } from "./exit-codes";
import { runUndo, whenInterruptible } from "./undo";

/*
 * The command line of every tool, set up once: the commander settings, how a bad
 * argument or --help ends (exit 2 / 0, commander has printed why), how an error ends
 * (scripts/lib/exit-codes.ts: its code and one line "<tool>: <kind>: <message>"), and
 * what Ctrl-C and SIGTERM do (put things back, then exit 130/143). Two shapes of tool
 * use it: a tool whose core throws (the data tools, the benches) runs through `run`;
 * a tool whose core returns what to print and its code (guard, promote, so their tests
 * need no process) ends through `finish`.
 */

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A command with the house settings: help after a usage error, no exit from inside commander. */
export function toolCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

/** Commander stopped the command line (help shown, or a bad argument it has already named). */
export class CommandLineExit extends Error {
  override name = "CommandLineExit";
  constructor(readonly exitCode: number) {
    super(`command line ended with exit code ${exitCode}`);
  }
}

/** The exit code of a commander stop: 0 for help and version, 2 for any bad argument. */
export function commandLineCode(e: CommanderError): number {
  return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
}

/**
 * Parses the user's arguments (argv without node and the script) and returns the
 * options; a commander stop becomes a CommandLineExit with its exit code.
 */
export function parseOptions<T extends object>(
  program: Command,
  argv: readonly string[] = process.argv.slice(2),
): T {
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) throw new CommandLineExit(commandLineCode(e));
    throw e;
  }
  return program.opts<T>();
}

/** "error", "refused", "missing" or "failed": the word before an error's message. */
function kindOf(e: unknown): string {
  return e instanceof ToolError ? e.kind : "failed";
}

/** The exit code of anything a tool's main can throw. */
export function toolExitCode(e: unknown): number {
  return e instanceof CommandLineExit ? e.exitCode : exitCodeOf(e);
}

function onSignals(tool: string, interrupted: { now: boolean }): void {
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (interrupted.now) return;
    interrupted.now = true;
    log(`${tool}: ${signal} received: stopping and putting things back`);
    whenInterruptible(() => {
      void killChildren()
        .then(() => runUndo(log))
        .finally(() => {
          log(`${tool}: interrupted; nothing was left half-done`);
          process.exit(code);
        });
    }, log);
  };
  process.on("SIGINT", () => onSignal("SIGINT", EXIT_SIGNAL.SIGINT));
  process.on("SIGTERM", () => onSignal("SIGTERM", EXIT_SIGNAL.SIGTERM));
}

/**
 * Runs a tool whose core throws: exit 0 when `main` resolves (or the code it returns),
 * else the pending undo steps, one line naming the error, and its exit code.
 */
export function run(tool: string, main: () => Promise<number | void>): void {
  const interrupted = { now: false };
  onSignals(tool, interrupted);
  main().then(
    (code) => {
      if (!interrupted.now) process.exit(code ?? EXIT.ok);
    },
    async (e: unknown) => {
      if (interrupted.now) return;
      if (e instanceof CommandLineExit) process.exit(e.exitCode);
      await runUndo(log);
      log(`${tool}: ${kindOf(e)}: ${(e as Error).message ?? String(e)}`);
      process.exit(toolExitCode(e));
    },
  );
}

/** What a result-returning core decided: the text to print and the exit code. */
export interface ToolResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Ends a tool whose core returns its result: prints it and sets the exit code. */
export function finish(result: ToolResult): void {
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}
