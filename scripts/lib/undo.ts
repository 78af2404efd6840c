/*
 * Things to put back if the work stops half-way: containers to restart, partial
 * files to remove. Normal code undoes them in `finally`; the same list is run by
 * the signal handler (Ctrl-C, SIGTERM), so an interrupted run also leaves the
 * stack as it found it.
 */

export interface UndoStep {
  readonly label: string;
  readonly run: () => Promise<void> | void;
}

const steps: UndoStep[] = [];

/** Registers a step; returns the function that unregisters it once done normally. */
export function pushUndo(label: string, run: () => Promise<void> | void): () => void {
  const step = { label, run };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

/** Runs every pending step, newest first; reports failures instead of stopping. */
export async function runUndo(log: (line: string) => void): Promise<void> {
  while (steps.length > 0) {
    const step = steps.pop() as UndoStep;
    try {
      log(`  undo: ${step.label}`);
      await step.run();
    } catch (e) {
      log(`  undo FAILED: ${step.label}: ${(e as Error).message}`);
    }
  }
}

export function pendingUndo(): readonly string[] {
  return steps.map((s) => s.label);
}

let critical = 0;
let deferred: (() => void) | undefined;

/**
 * Runs a step that must not be cut half-way (moving restored data into place):
 * a Ctrl-C or SIGTERM received meanwhile is handled once it has finished.
 */
export async function uninterruptible<T>(fn: () => Promise<T>): Promise<T> {
  critical += 1;
  try {
    return await fn();
  } finally {
    critical -= 1;
    if (critical === 0 && deferred !== undefined) {
      const d = deferred;
      deferred = undefined;
      d();
    }
  }
}

/** Runs `fn` now, or after the current uninterruptible step. */
export function whenInterruptible(fn: () => void, log: (line: string) => void): void {
  if (critical === 0) {
    fn();
  } else {
    log("  finishing the current step first (it must not stop half-way)");
    deferred = fn;
  }
}
