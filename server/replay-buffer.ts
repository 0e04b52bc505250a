/**
 * The tail of a session's output stream, bounded in bytes, addressed by
 * stream offset: what a reconnecting client is missing is replayed from here.
 */
export class ReplayBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Stream offset of the first byte still held. */
  private startOffset = 0;
  private readonly capacity: number;
  private readonly onEvict: (chunk: Buffer) => void;

  constructor(capacity: number, onEvict: (chunk: Buffer) => void = () => {}) {
    this.capacity = capacity;
    this.onEvict = onEvict;
  }

  get start(): number {
    return this.startOffset;
  }

  /** Stream offset just past the last byte written. */
  get end(): number {
    return this.startOffset + this.bytes;
  }

  get size(): number {
    return this.bytes;
  }

  append(chunk: Buffer): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
    while (this.bytes > this.capacity) {
      const first = this.chunks[0]!;
      const excess = this.bytes - this.capacity;
      // Evict whole chunks; split only the one straddling the limit.
      const evicted = excess >= first.byteLength ? this.chunks.shift()! : first.subarray(0, excess);
      if (evicted !== first) this.chunks[0] = first.subarray(excess);
      this.bytes -= evicted.byteLength;
      this.startOffset += evicted.byteLength;
      this.onEvict(evicted);
    }
  }

  /** The bytes from `offset` to the end, or undefined when `offset` is no longer held. */
  since(offset: number): Buffer[] | undefined {
    if (offset < this.startOffset || offset > this.end) return undefined;
    const result: Buffer[] = [];
    let position = this.startOffset;
    for (const chunk of this.chunks) {
      const chunkEnd = position + chunk.byteLength;
      if (chunkEnd > offset) result.push(offset > position ? chunk.subarray(offset - position) : chunk);
      position = chunkEnd;
    }
    return result;
  }
}
