/** Limits concurrent channels on one connection (OpenSSH allows 10 sessions per connection by default). */
export class Semaphore {
  private waiting: (() => void)[] = [];
  private inUse = 0;

  constructor(private readonly limit: number) {}

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inUse >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inUse++;
    try {
      return await fn();
    } finally {
      this.inUse--;
      this.waiting.shift()?.();
    }
  }
}
