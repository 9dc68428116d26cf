// Progress of `npm run images` on stderr. On a terminal the current step's
// line is redrawn in place (byte counts, percentages); otherwise (logs, CI)
// each step prints exactly one line when it ends.

export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
};

/** "12.0 MiB / 70.3 MiB (17%)", or a plain count when the total is unknown. */
export const formatTransfer = (done: number, total?: number): string =>
  total && total > 0 ? `${formatBytes(done)} / ${formatBytes(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)` : formatBytes(done);

export class Progress {
  private title = '';
  private index = 0;
  private started = 0;
  private lastDraw = 0;
  private detail = '';
  readonly tty: boolean;

  constructor(private readonly out: ProgressSink = process.stderr, public total = 0, private readonly prefix = 'images') {
    this.tty = Boolean(out.isTTY);
  }

  setTotal(n: number) {
    this.total = n;
  }

  private label() {
    return `${this.prefix}: [${this.index}/${this.total || '?'}] ${this.title}`;
  }

  /** Redraws the current line, cut to the terminal's width so it never wraps (a wrapped line cannot be redrawn). */
  private draw(text: string, cut = true) {
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const line = cut && text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.out.write(`\r\x1b[K${line}`);
  }

  /** Starts the next step. */
  step(title: string) {
    if (this.title) this.done();
    this.index++;
    this.title = title;
    this.detail = '';
    this.started = Date.now();
    if (this.tty) this.draw(`${this.label()} …`);
  }

  /** The running step's detail (redrawn at most every 100 ms on a terminal; kept for the final line otherwise). */
  update(detail: string, force = false) {
    this.detail = detail;
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw(`${this.label()} … ${detail}`);
  }

  private finish(mark: string, result: string) {
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const text = `${this.label()}: ${result || this.detail || 'done'} (${secs} s)`;
    if (this.tty) {
      this.draw(`${mark} ${text}`, false);
      this.out.write('\n');
    } else {
      this.out.write(`${text}\n`);
    }
    this.title = '';
  }

  /** Ends the running step with its result ("cached", "7.9 MiB", …). */
  done(result = '') {
    if (this.title) this.finish(this.tty ? '✓' : '', result);
  }

  fail(message: string) {
    if (this.title) this.finish(this.tty ? '✗' : '', `FAILED: ${message}`);
  }

  /** A line outside the steps (notes, the summary). */
  note(text: string) {
    if (this.tty && this.title) this.out.write('\r\x1b[K');
    this.out.write(`${this.prefix}: ${text}\n`);
    if (this.tty && this.title) this.draw(`${this.label()} … ${this.detail}`);
  }
}
