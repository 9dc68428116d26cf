// Login throttling: failures per account and per client address in a
// sliding window. In memory: the panel is one process; a restart forgets
// (acceptable: the limits slow guessing, they are not a ban list).

export interface ThrottleOptions {
  windowMs: number;
  maxPerAccount: number;
  maxPerAddress: number;
  now?: () => number;
}

export class LoginThrottle {
  private failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds until another attempt is allowed, or 0 if it is allowed now. */
  retryAfter(account: string, address: string): number {
    return Math.max(
      this.wait(`a:${account}`, this.opts.maxPerAccount),
      this.wait(`ip:${address}`, this.opts.maxPerAddress),
    );
  }

  fail(account: string, address: string): void {
    for (const key of [`a:${account}`, `ip:${address}`]) {
      const list = this.recent(key);
      list.push(this.now());
      this.failures.set(key, list);
    }
    if (this.failures.size > 100_000) this.prune();
  }

  succeed(account: string): void {
    this.failures.delete(`a:${account}`);
  }

  private wait(key: string, max: number): number {
    const list = this.recent(key);
    if (list.length < max) return 0;
    return list[list.length - max]! + this.opts.windowMs - this.now();
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.opts.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > cutoff);
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) {
      const list = this.recent(key);
      if (list.length) this.failures.set(key, list);
      else this.failures.delete(key);
    }
  }
}
