import { describe, expect, it } from "vitest";
import { ReplayBuffer } from "./replay-buffer.ts";

/** A plain model: every byte appended, the last `capacity` kept, the rest evicted in order. */
describe("replay buffer (a ring that grows up to its capacity)", () => {
  it("keeps the last bytes, replays from any offset it holds and evicts in order, across wraps and growth", () => {
    let seed = 1;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let trial = 0; trial < 60; trial++) {
      const capacity = 1 + random(5000);
      const evicted: Buffer[] = [];
      // onEvict gets views into the ring: copy, as the contract says.
      const buffer = new ReplayBuffer(capacity, (chunk) => evicted.push(Buffer.from(chunk)));
      let all = Buffer.alloc(0);
      for (let step = 0; step < 100; step++) {
        const size = random(4) === 0 ? random(capacity * 2 + 1) : random(300);
        const chunk = Buffer.from(Array.from({ length: size }, (_, i) => (all.length + i) & 0xff));
        buffer.append(chunk);
        all = Buffer.concat([all, chunk]);
        const start = Math.max(0, all.length - capacity);
        expect([buffer.start, buffer.end, buffer.size]).toEqual([start, all.length, all.length - start]);
        const from = start + random(all.length - start + 1);
        expect(Buffer.concat(buffer.since(from)!).equals(all.subarray(from))).toBe(true);
        expect(Buffer.concat(evicted).equals(all.subarray(0, start))).toBe(true);
        if (start > 0) expect(buffer.since(start - 1)).toBeUndefined();
        expect(buffer.since(all.length + 1)).toBeUndefined();
      }
    }
  });
});
