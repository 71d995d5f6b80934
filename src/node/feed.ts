/**
 * A bounded async iterator fed by pushes: what `node.services.watch` and
 * `node.placement.watch` return. Like the node's event iterators (events.ts): the buffer holds
 * at most `bufferMax` items, a reader that falls that far behind loses the oldest (counted in
 * `dropped`), and the iterator ends when its signal aborts, its reader returns, or the node
 * closes (`end`). `onEnd` runs once, whichever ends it, so its producer can stop feeding it; a
 * feed whose signal was aborted before it was made is born ended and never calls it.
 */

export class Feed<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private ended = false;
  /** Items dropped because the reader fell `bufferMax` behind. */
  dropped = 0;

  constructor(
    private readonly bufferMax: number,
    private readonly signal: AbortSignal | undefined,
    private readonly onEnd: () => void,
  ) {
    // Aborted already: born ended, and `onEnd` is not called (its producer never fed it).
    if (signal?.aborted === true) this.done = this.ended = true;
    else signal?.addEventListener('abort', this.abort, { once: true });
  }

  private readonly abort = (): void => this.end();

  get isDone(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.buffer.length >= this.bufferMax) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(item);
    this.wake?.();
  }

  /** No more items: the reader gets what is buffered, then the end. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.abort);
    this.wake?.();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    while (this.buffer.length === 0 && !this.done) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    const value = this.buffer.shift();
    if (value === undefined) return { done: true, value: undefined };
    return { done: false, value };
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.buffer.length = 0;
    this.end();
    return { done: true, value: undefined };
  }
}
