import { formatBytes } from "./archive";

/*
 * Progress of archives written side by side: on a terminal one status line,
 * redrawn in place, with each data set's bytes and rate; elsewhere (CI logs) a
 * plain line per data set every few seconds.
 */

export interface ProgressTask {
  update(bytes: number): void;
  end(): void;
}

interface Entry {
  readonly label: string;
  readonly started: number;
  bytes: number;
  lastLine: number;
}

export class ProgressBoard {
  private readonly tasks = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 2000,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  static rate(bytes: number, started: number): string {
    const s = Math.max((Date.now() - started) / 1000, 0.001);
    return `${formatBytes(Math.round(bytes / s))}/s`;
  }

  start(label: string): ProgressTask {
    const e: Entry = { label, started: Date.now(), bytes: 0, lastLine: Date.now() };
    this.tasks.add(e);
    if (this.tty && this.timer === undefined) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
    return {
      update: (bytes) => {
        e.bytes = bytes;
        const now = Date.now();
        if (!this.tty && now - e.lastLine >= this.everyMs) {
          e.lastLine = now;
          this.stream.write(
            `  ${e.label}: ${formatBytes(e.bytes)} (${ProgressBoard.rate(e.bytes, e.started)})\n`,
          );
        }
      },
      end: () => {
        this.tasks.delete(e);
        if (this.tasks.size === 0) this.stop();
      },
    };
  }

  /** The status line: "judge 120.0 MiB (310.2 MiB/s) | query 80.0 MiB (200.1 MiB/s)". */
  line(): string {
    return [...this.tasks]
      .map((e) => `${e.label} ${formatBytes(e.bytes)} (${ProgressBoard.rate(e.bytes, e.started)})`)
      .join(" | ");
  }

  private draw(): void {
    const width = this.stream.columns ?? 120;
    this.stream.write(`\r\x1b[K  ${this.line()}`.slice(0, width + 4));
    this.drawn = true;
  }

  /** Clears the status line, so log lines are never written over it. */
  clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}
