import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { startTestServer } from "./testing/lab-server.ts";

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
// Small enough that a flood passes the high watermark and outruns the replay buffer at once;
// the low watermark stays above the client's ack interval (128 KiB), as the config requires.
const limits = { replayBufferBytes: 512 * 1024, highWatermarkBytes: 384 * 1024, lowWatermarkBytes: 192 * 1024 };

beforeAll(async () => {
  server = await startTestServer({ limits });
});
afterAll(async () => {
  await server?.close();
});

async function ready(client: ProtocolClient): Promise<void> {
  client.type("PS1='$ '; PROMPT_COMMAND=; echo READY-$((20+22))\r");
  await client.waitForText("READY-42");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("flow control", () => {
  it("pauses a flooding program at the high watermark while the client reads nothing, and Ctrl-C stops it at once", async () => {
    const client = await ProtocolClient.connect(server.url, { autoAck: false });
    await ready(client);
    client.ack();
    const start = client.offset;
    client.type("yes flood-line-of-text\r");
    await sleep(1500);
    const afterFlood = client.offset - start;
    await sleep(1000);
    // Nothing more arrives while nothing is acked: the pty is paused, not buffered without bound.
    expect(afterFlood).toBeGreaterThan(limits.highWatermarkBytes / 2);
    expect(client.offset - start).toBeLessThanOrEqual(limits.highWatermarkBytes + 128 * 1024);
    expect(client.offset - start).toBe(afterFlood);
    const interrupted = performance.now();
    client.type("\x03");
    client.type("echo STOPPED-$((3*3))\r");
    // A slow client that acks now and then still gets through the backlog to the prompt.
    while (!client.text.includes("STOPPED-9")) {
      client.ack();
      await sleep(10);
      if (performance.now() - interrupted > 10_000) throw new Error("Ctrl-C did not stop the flood within 10 s");
    }
    expect(performance.now() - interrupted).toBeLessThan(3000);
    await client.close();
  });
});

describe("resume", () => {
  it("repaints the screen when the gap is larger than the replay buffer, then goes on exactly", async () => {
    const first = await ProtocolClient.connect(server.url, { keepOutput: true });
    await ready(first);
    const session = first.welcome!.session;
    first.type("seq 1 150000; echo SEQ-DONE-$((5+5))\r");
    await first.waitForText("SEQ-DONE-10", 20_000);
    first.drop();
    // A reload: the page has nothing of the stream, so it asks from offset 0.
    const second = await ProtocolClient.connect(server.url, { session, offset: 0 });
    expect(second.welcome).toMatchObject({ session, replay: "repaint" });
    expect(second.welcome!.offset).toBeGreaterThan(0);
    expect(second.repaints).toHaveLength(1);
    // The repaint holds the screen as it stood where the replay buffer starts: numbers of the sequence.
    expect(second.repaints[0]!.toString()).toMatch(/\d{5,6}\r?\n/);
    await second.waitForText("SEQ-DONE-10");
    second.type("echo AFTER-REPAINT\r");
    await second.waitForText("AFTER-REPAINT\r\n");
    await second.close();
  });

  it("hands the session to the newest connection and tells the older one", async () => {
    const first = await ProtocolClient.connect(server.url);
    await ready(first);
    const second = await ProtocolClient.connect(server.url, { session: first.welcome!.session, offset: first.offset });
    expect(await first.closed).toBe(CloseCode.replaced);
    expect(second.welcome!.replay).toBe("exact");
    second.type("echo SECOND-OWNS-IT\r");
    await second.waitForText("SECOND-OWNS-IT\r\n");
    await second.close();
  });
});
