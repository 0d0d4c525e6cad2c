/**
 * Limits concurrent channels on one connection (OpenSSH allows 10 sessions per connection by default).
 * FIFO-fair: a released slot is handed straight to the oldest waiter, so a newcomer arriving between the release and
 * the waiter's wake-up cannot take it (which would both reorder callers and briefly exceed the limit).
 */
export class Semaphore {
  private waiting: (() => void)[] = [];
  private inUse = 0;

  constructor(private readonly limit: number) {}

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inUse < this.limit && this.waiting.length === 0) this.inUse++;
    // The releaser keeps inUse as it is and passes its slot on by resolving us.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse--;
    }
  }
}
