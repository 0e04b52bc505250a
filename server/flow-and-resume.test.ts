import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { authorizedFetch, startTestServer } from "./testing/lab-server.ts";

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

describe("skip ahead (a client that draws a terminal, as the page does)", () => {
  it("skips a client that falls behind a flood to the flood's last screen, then goes on live", async () => {
    const { Terminal } = (await import("@xterm/headless")).default;
    const client = await ProtocolClient.connect(server.url, { autoAck: false, skipAhead: true, cols: 80, rows: 24 });
    // The lab's prompt marks stay (PROMPT_COMMAND is kept): the client must learn that the prompt came back.
    client.type("PS1='$ '; echo READY-$((20+22))\r");
    await client.waitForText("READY-42");
    client.ack();
    const start = client.offset;
    client.type("seq 1 1000000; echo FLOOD-DONE-$((4+4))\r");
    // A slow screen: it processes what it has every 200 ms (under 2 MB/s), and the flood is 6.9 MB.
    const began = performance.now();
    /** What the client shows: its last repaint, then the output after it. */
    const shown = () => {
      const last = client.repaints.length - 1;
      if (last < 0) return { repaint: Buffer.alloc(0), after: client.output };
      return { repaint: client.repaints[last]!, after: client.output.subarray(client.repaintsAt[last]! - (client.received - client.output.length)) };
    };
    for (;;) {
      client.ack();
      await sleep(200);
      const { repaint, after } = shown();
      const text = repaint.toString("latin1") + after.toString("latin1");
      if (text.includes("FLOOD-DONE-8") && text.lastIndexOf("\x1b]133;A\x07") > text.indexOf("FLOOD-DONE-8")) break;
      if (performance.now() - began > 20_000) throw new Error(`no end of the flood in 20 s; repaints: ${client.repaints.length}, received ${client.received - start}, offset ${client.offset - start}, tail ${JSON.stringify(client.text.slice(-200))}`);
    }
    // The flood is over: one more repaint settles the screen with its scrollback, then the client is live.
    let settled = 0;
    for (let count = client.repaints.length; settled < 4; ) {
      client.ack();
      await sleep(100);
      settled = client.repaints.length === count ? settled + 1 : 0;
      count = client.repaints.length;
    }
    const streamed = client.offset - start;
    // Most of the flood was skipped: far fewer bytes went to the client than the program printed.
    expect(client.repaints.length).toBeGreaterThanOrEqual(1);
    expect(streamed).toBeGreaterThan(6_500_000);
    expect(client.received - start).toBeLessThan(streamed / 2);

    // What the client shows is the whole stream's screen, and its scrollback the lines before it.
    const screen = new Terminal({ cols: 80, rows: 24, scrollback: 5000, allowProposedApi: true });
    const { repaint, after } = shown();
    await new Promise<void>((resolve) => screen.write(repaint, () => screen.write(after, resolve)));
    const buffer = screen.buffer.active;
    const lines = Array.from({ length: buffer.length }, (_, y) => buffer.getLine(y)!.translateToString(true).trim()).filter((line) => line !== "");
    expect(buffer.baseY, "scrollback lines after the settling repaint").toBeGreaterThanOrEqual(900);
    const done = lines.indexOf("FLOOD-DONE-8");
    expect(done, lines.join("|")).toBeGreaterThan(0);
    // The numbers before it are the sequence's last ones, in order, none missing.
    const numbers = lines.slice(0, done).filter((line) => /^\d+$/.test(line)).map(Number);
    expect(numbers.length).toBeGreaterThan(900);
    expect(numbers.at(-1)).toBe(1000000);
    numbers.forEach((n, i) => i > 0 && expect(n).toBe(numbers[i - 1]! + 1));
    expect(lines.at(-1)).toBe("$");
    screen.dispose();

    // Live again: an echo comes as output, not as a repaint.
    const repaints = client.repaints.length;
    client.type("echo AFTER-SKIP-$((6*7))\r");
    for (let i = 0; i < 100 && !client.text.includes("AFTER-SKIP-42"); i++) {
      client.ack();
      await sleep(20);
    }
    expect(client.text).toContain("AFTER-SKIP-42");
    expect(client.repaints.length).toBe(repaints);
    await client.close();
  });

  it("gives a client that is behind when the shell exits the last screen before the exit", async () => {
    const client = await ProtocolClient.connect(server.url, { autoAck: false, skipAhead: true, cols: 80, rows: 24 });
    client.type("PS1='$ '; echo READY-$((20+22))\r");
    await client.waitForText("READY-42");
    client.ack();
    client.type("seq 1 1000000; exit 3\r");
    const began = performance.now();
    while (client.exitCode === undefined) {
      client.ack();
      await sleep(200);
      if (performance.now() - began > 20_000) throw new Error(`no exit in 20 s; repaints: ${client.repaints.length}`);
    }
    expect(client.exitCode).toBe(3);
    expect(client.repaints.length).toBeGreaterThanOrEqual(1);
    const last = client.repaints.length - 1;
    const shown = client.repaints[last]!.toString() + client.output.subarray(client.repaintsAt[last]! - (client.received - client.output.length)).toString();
    expect(shown).toMatch(/999999\r?\n(\x1b\[[0-9;]*[A-Za-z])*1000000/);
    await client.close();
  });

  it("sends no more repaints to a client that stops reading, whatever it acks", async () => {
    const skipRepaints = async () => {
      const text = await (await authorizedFetch(new URL("metrics", server.url))).text();
      return Number(/^nwl_terminal_repaints_total\{reason="skip"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    // A wide screen of full lines: each repaint is ~80 KB, so unread ones would pile up fast.
    const client = await ProtocolClient.connect(server.url, { autoAck: false, skipAhead: true, cols: 400, rows: 200 });
    client.type("PS1='$ '; echo READY-$((20+22))\r");
    await client.waitForText("READY-42");
    client.ack();
    client.type(`yes "$(printf '%0390d' 0)"\r`);
    await sleep(300);
    // From here on the client reads nothing, and claims everything there will ever be, every 10 ms.
    client.socket.pause();
    const acks = setInterval(() => client.send({ type: "ack", offset: Number.MAX_SAFE_INTEGER }), 10);
    try {
      // Repaints count as written only once they left: once the socket's buffers are full, none follow
      // (before, 20 a second went on piling up in the server's memory). How soon the buffers fill depends
      // on the machine's load, so: wait until the count has not moved for 2 s, then it must stay put.
      let last = await skipRepaints();
      let still = 0;
      const deadline = performance.now() + 25_000;
      while (still < 4) {
        if (performance.now() > deadline) throw new Error(`repaints went on: ${last} after 25 s, still growing`);
        await sleep(500);
        const now = await skipRepaints();
        still = now === last ? still + 1 : 0;
        last = now;
      }
      await sleep(3000);
      expect((await skipRepaints()) - last).toBeLessThanOrEqual(1);
    } finally {
      clearInterval(acks);
      client.type("\x03");
      client.socket.resume();
      await client.close();
    }
  }, 45_000);
});
