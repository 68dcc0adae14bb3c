import { clearLine, cursorTo } from "node:readline";
import type { BatchProgress, EpochMetrics } from "@convnets/core";
import { type OutputStream, println } from "./context.js";
import { f3, formatDuration, formatInt } from "./format.js";

/** Shows training as it happens: a live bar on a terminal, one plain line per epoch elsewhere. */
export class Progress {
  private lastDraw = 0;
  private barShown = false;
  private readonly started = performance.now();
  private epochsThisSession = 0;
  private readonly live: boolean;

  constructor(
    private readonly out: OutputStream,
    private readonly totalEpochs: number,
    private readonly examplesPerEpoch: number,
  ) {
    this.live = Boolean(out.isTTY);
  }

  /** Redraws the bar at most ten times a second (and always on an epoch's last batch). */
  batch(p: BatchProgress): void {
    if (!this.live) return;
    const now = performance.now();
    if (p.batch < p.batches && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const left = (this.examplesPerEpoch - p.examples) / p.examplesPerSec;
    // Fixed-width figures, so the bar keeps its length while the numbers change.
    const total = formatInt(this.examplesPerEpoch);
    const parts = [
      `${formatInt(p.examples).padStart(total.length)}/${total}`,
      `loss ${f3(p.meanLoss)}`,
      `acc ${f3(p.trainAcc)}`,
      `${formatInt(p.examplesPerSec).padStart(6)} ex/s`,
      `${formatDuration(left).padStart(6)} left`,
    ];
    const label = `epoch ${this.epochLabel(p.epoch)} `;
    const columns = this.out.columns || 80;
    // Two spaces between the figures where they fit, one on narrow terminals; the bar takes what is left.
    let stats = ` ${parts.join("  ")}`;
    if (label.length + 10 + stats.length >= columns) stats = ` ${parts.join(" ")}`;
    const width = Math.max(10, Math.min(40, columns - 1 - label.length - stats.length));
    const done = Math.round((width * p.examples) / this.examplesPerEpoch);
    const bar = "█".repeat(done) + "░".repeat(width - done);
    cursorTo(this.out, 0);
    this.out.write(`${label}${bar}${stats}`.slice(0, columns - 1));
    clearLine(this.out, 1);
    this.barShown = true;
  }

  /** Replaces the bar with the epoch's line, with the run's remaining time. */
  epoch(m: EpochMetrics): void {
    this.clearBar();
    this.epochsThisSession++;
    const elapsed = (performance.now() - this.started) / 1000;
    const remaining = this.totalEpochs - m.epoch;
    const eta = remaining > 0 ? `, about ${formatDuration((elapsed / this.epochsThisSession) * remaining)} left` : "";
    println(
      this.out,
      `epoch ${this.epochLabel(m.epoch)}  loss ${f3(m.loss)}, train acc ${f3(m.trainAcc)}, test acc ${f3(m.testAcc)}` +
        `  ${formatInt(m.examplesPerSec)} examples/sec, ${formatDuration(m.seconds)}${eta}`,
    );
  }

  /** Removes a half-drawn bar (on Ctrl-C or an error) so the next message starts on a clean line. */
  clearBar(): void {
    if (!this.barShown) return;
    cursorTo(this.out, 0);
    clearLine(this.out, 0);
    this.barShown = false;
  }

  private epochLabel(epoch: number): string {
    const width = String(this.totalEpochs).length;
    return `${String(epoch).padStart(width)}/${this.totalEpochs}`;
  }
}
