/**
 * Runs tasks one after another, with a bounded number waiting: checks of one
 * environment (two checks at once see each other's probe containers) and
 * repaints (each serializes a whole screen: one at a time bounds the memory).
 */
export class QueueFullError extends Error {}

export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;
  private running = false;
  private readonly maxWaiting: number;

  constructor(maxWaiting = Number.POSITIVE_INFINITY) {
    this.maxWaiting = maxWaiting;
  }

  /** Tasks running or waiting. */
  get size(): number {
    return this.waiting + (this.running ? 1 : 0);
  }

  /** Runs `task` after every task queued before it; throws QueueFullError when too many wait already. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running && this.waiting >= this.maxWaiting) {
      return Promise.reject(new QueueFullError(`${this.waiting} tasks are waiting already`));
    }
    this.waiting += 1;
    const result = this.tail.then(async () => {
      this.waiting -= 1;
      this.running = true;
      try {
        return await task();
      } finally {
        this.running = false;
      }
    });
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}
