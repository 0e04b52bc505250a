/**
 * The tail of a session's output stream, bounded in bytes, addressed by
 * stream offset: what a reconnecting client is missing is replayed from here.
 *
 * The bytes are copied into one ring that grows (doubling) up to the
 * capacity, instead of keeping every pty read: a flood reads ~1.5 KB at a
 * time, and holding thousands of small buffers long enough to be promoted
 * makes V8 run a full mark-compact every few MB of output. An idle
 * session's ring stays small.
 */
const INITIAL_BYTES = 4096;

export class ReplayBuffer {
  private ring: Buffer = Buffer.alloc(0);
  /** Ring index of the oldest byte held. */
  private head = 0;
  private bytes = 0;
  /** Stream offset of the first byte still held. */
  private startOffset = 0;
  private readonly capacity: number;
  private readonly onEvict: (chunk: Buffer) => void;

  /** `onEvict` gets views into the ring: copy what you keep before returning. */
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
    if (chunk.byteLength >= this.capacity) {
      // Only the chunk's tail fits: everything held and the chunk's head are evicted, in order.
      this.evict(this.bytes);
      const cut = chunk.byteLength - this.capacity;
      if (cut > 0) {
        this.onEvict(chunk.subarray(0, cut));
        this.startOffset += cut;
      }
      chunk = chunk.subarray(cut);
      if (chunk.byteLength === 0) return;
    } else {
      this.evict(Math.max(0, this.bytes + chunk.byteLength - this.capacity));
    }
    this.reserve(this.bytes + chunk.byteLength);
    const length = this.ring.byteLength;
    const tail = (this.head + this.bytes) % length;
    const first = Math.min(chunk.byteLength, length - tail);
    chunk.copy(this.ring, tail, 0, first);
    if (first < chunk.byteLength) chunk.copy(this.ring, 0, first);
    this.bytes += chunk.byteLength;
  }

  /**
   * The bytes from `offset` to the end (views into the ring, valid until
   * the next append), or undefined when `offset` is no longer held.
   */
  since(offset: number): Buffer[] | undefined {
    if (offset < this.startOffset || offset > this.end) return undefined;
    return this.views(offset - this.startOffset, this.end - offset);
  }

  private views(from: number, count: number): Buffer[] {
    if (count === 0) return [];
    const length = this.ring.byteLength;
    const begin = (this.head + from) % length;
    const first = Math.min(count, length - begin);
    const result = [this.ring.subarray(begin, begin + first)];
    if (first < count) result.push(this.ring.subarray(0, count - first));
    return result;
  }

  private evict(count: number): void {
    if (count <= 0) return;
    for (const view of this.views(0, count)) this.onEvict(view);
    this.head = (this.head + count) % Math.max(1, this.ring.byteLength);
    this.bytes -= count;
    this.startOffset += count;
  }

  private reserve(needed: number): void {
    if (needed <= this.ring.byteLength) return;
    let size = Math.max(INITIAL_BYTES, this.ring.byteLength);
    while (size < needed) size *= 2;
    const ring = Buffer.allocUnsafe(Math.min(size, this.capacity));
    let at = 0;
    for (const view of this.views(0, this.bytes)) at += view.copy(ring, at);
    this.ring = ring;
    this.head = 0;
  }
}
