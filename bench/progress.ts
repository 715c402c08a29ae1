/** One line on stderr, redrawn in place; silent when stderr is not a terminal except for a line per tenth. */
export class Progress {
  private readonly startedAt = Date.now();
  private lastTenth = -1;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, failed = 0, note = ''): void {
    const now = Date.now();
    const fraction = this.total ? done / this.total : 1;
    const seconds = (now - this.startedAt) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const text =
      `${this.label.padEnd(9)} [${'#'.repeat(Math.round(fraction * 30)).padEnd(30, '.')}] ${done}/${this.total}` +
      ` ${rate.toFixed(1)}/s ${seconds.toFixed(0)}s${failed ? ` failed ${failed}` : ''}${note ? ` ${note}` : ''}`;
    if (process.stderr.isTTY) {
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      process.stderr.write(`\r${text}\x1b[K`);
    } else {
      const tenth = Math.floor(fraction * 10);
      if (tenth === this.lastTenth) return;
      this.lastTenth = tenth;
      process.stderr.write(`${text}\n`);
    }
  }

  finish(): void {
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}
