import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { processAlive, startTestServer, waitUntil } from "./testing/lab-server.ts";

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;

beforeAll(async () => {
  server = await startTestServer({ limits: { graceMs: 60_000, leaveGraceMs: 1000 } }, { labs: ["sandbox"] });
});
afterAll(async () => {
  await server?.close();
});

/** A shell with a marker prompt and no echo games, ready for commands. */
async function shell(options: ConstructorParameters<typeof Object>[0] = {}) {
  const client = await ProtocolClient.connect(server.url, options as object);
  client.type("PS1='$ '; PROMPT_COMMAND=; echo READY-$((20+22))\r");
  await client.waitForText("READY-42");
  return client;
}

async function shellPid(client: ProtocolClient): Promise<number> {
  client.type("echo PID=$$=\r");
  const text = await client.waitForText(/PID=\d+=/);
  return Number(/PID=(\d+)=/.exec(text)![1]);
}

describe("terminal bridge over a real WebSocket and a real pty", () => {
  it("welcomes a new session and runs a command", async () => {
    const client = await shell();
    expect(client.welcome).toMatchObject({ type: "welcome", version: 1, replay: "new", offset: 0 });
    client.type("echo $((6*7))-done\r");
    await client.waitForText("42-done");
    await client.close();
  });

  it("delivers output bytes exactly, in order, with stream offsets that add up", async () => {
    const client = await shell();
    client.clearOutput();
    // -opost: the tty passes bytes through untouched, so they can be compared exactly.
    client.type("stty -echo -opost; seq 1 60000 | tr '\\n' ' '; echo; echo END-OF-SEQ\r");
    await client.waitForText("END-OF-SEQ\n");
    const expected = Array.from({ length: 60000 }, (_, i) => `${i + 1} `).join("");
    expect(client.text).toContain(expected);
    // Offsets are byte counts: the stream position equals every byte received.
    expect(client.offset).toBe(client.received);
    await client.close();
  });

  it("keeps UTF-8 exact when a character is split across chunks, both ways", async () => {
    const client = await shell();
    client.clearOutput();
    // Output: each byte of "é✓世" written separately, with pauses, so they reach the client in separate frames.
    client.type("for b in c3 a9 e2 9c 93 e4 b8 96; do printf \"\\\\x$b\"; sleep 0.02; done; echo '<'\r");
    await client.waitForText("é✓世<");
    // Input: the bytes of "héllo ✓" sent in frames that split characters.
    client.type("read -r line; printf 'GOT[%s]\\n' \"$line\"\r");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const bytes = Buffer.from("héllo ✓ 世界\r", "utf8");
    const cuts = [0, 2, 3, 9, 12, bytes.byteLength];
    for (let i = 1; i < cuts.length; i++) client.type(bytes.subarray(cuts[i - 1], cuts[i]));
    await client.waitForText("GOT[héllo ✓ 世界]");
    await client.close();
  });

  it("resizes the pty", async () => {
    const client = await shell();
    client.send({ type: "resize", cols: 123, rows: 37 });
    client.type("stty size\r");
    await client.waitForText("37 123");
    await client.close();
  });

  it("reports the exit code, then closes with 'session ended'", async () => {
    const client = await shell();
    client.type("exit 7\r");
    expect(await client.closed).toBe(CloseCode.sessionEnded);
    expect(client.exitCode).toBe(7);
  });

  it("loses no output when a program writes a lot and exits at once, even through a slow client", async () => {
    for (const [size, autoAck] of [[3_000_000, true], [1_500_000, false], [200_000, true]] as const) {
      const client = await ProtocolClient.connect(server.url, { lab: "sandbox", autoAck });
      client.type(`stty -echo; echo ST""ART; head -c ${size} /dev/zero | tr '\\0' '@'; exit 3\r`);
      if (!autoAck) {
        // Read nothing for a while: the server must pause, not drop.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await client.until(() => client.offset > 0, 5000, "first output");
        while (client.exitCode === undefined) {
          client.ack();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      await client.closed;
      expect(client.exitCode).toBe(3);
      const output = client.output.subarray(client.output.indexOf("START\r\n") + 7);
      const count = output.reduce((n, byte) => n + (byte === 0x40 ? 1 : 0), 0);
      expect(count).toBe(size);
    }
  });

  it("delivers every byte of `head -c N /dev/urandom | base64; exit`, run after run", async () => {
    for (const size of [1, 4_096, 65_537, 777_777, 2_000_000, 5_000_000]) {
      const client = await ProtocolClient.connect(server.url, { lab: "sandbox" });
      client.type(`stty -echo; echo ST""ART; head -c ${size} /dev/urandom | base64; exit\r`);
      await client.closed;
      expect(client.exitCode).toBe(0);
      const text = client.output.toString("latin1");
      // A login shell says "logout" as it goes: everything else is base64's.
      const lines = text.slice(text.indexOf("START\r\n") + 7).split("\r\n");
      const encoded = lines.filter((line) => line !== "logout").join("");
      expect(encoded.length, `base64 of ${size} bytes`).toBe(4 * Math.ceil(size / 3));
      expect(Buffer.from(encoded, "base64").byteLength).toBe(size);
    }
  });

  it("ends the shell and every process it started when the reader closes it", async () => {
    const client = await shell();
    const pid = await shellPid(client);
    client.type("sleep 300 & echo BG=$!=\r");
    const bgPid = Number(/BG=(\d+)=/.exec(await client.waitForText(/BG=\d+=/))![1]);
    expect(processAlive(pid) && processAlive(bgPid)).toBe(true);
    await client.close(CloseCode.normal);
    await waitUntil(() => !processAlive(pid) && !processAlive(bgPid), 5000, "shell and its job to be gone");
  });

  it("keeps the session through a dropped connection and resumes byte-exactly", async () => {
    const first = await shell();
    const session = first.welcome!.session;
    first.type("sleep 0.5; echo AFTER-DROP-$((1+1))\r");
    first.drop();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const second = await ProtocolClient.connect(server.url, { lab: "sandbox", session, offset: first.offset });
    expect(second.welcome).toMatchObject({ session, replay: "exact", offset: first.offset });
    await second.waitForText("AFTER-DROP-2");
    // Nothing doubled: the replay starts exactly where the first connection stopped.
    expect(Buffer.concat([first.output, second.output]).toString()).toMatch(/READY-42[\s\S]*AFTER-DROP-2/);
    expect(second.text).not.toContain("READY-42");
    await second.close();
  });

  it("ends a session soon after its page said it was leaving", async () => {
    const client = await shell();
    const pid = await shellPid(client);
    client.send({ type: "leave" });
    await client.close(CloseCode.goingAway);
    await waitUntil(() => !processAlive(pid), 5000, "the shell of a closed page to end");
  });
});

describe("bad input gets a clear error", () => {
  it("rejects a malformed control frame with bad-frame and keeps the session", async () => {
    const client = await shell();
    client.sendRaw("{not json", false);
    client.sendRaw(JSON.stringify({ type: "resize", cols: -1, rows: 5 }), false);
    await client.until(() => client.errors.length >= 2, 5000, "two errors");
    expect(client.errors.map((error) => error.code)).toEqual(["bad-frame", "bad-frame"]);
    expect(client.errors[1]!.message).toContain("cols");
    client.type("echo STILL-$((2+3))\r");
    await client.waitForText("STILL-5");
    await client.close();
  });

  it("closes a connection whose first frame is not a hello", async () => {
    const { default: WebSocket } = await import("ws");
    const socket = new WebSocket(new URL("ws", server.url.replace("http", "ws")), "nix-way-labs.v1");
    const messages: string[] = [];
    socket.on("message", (data) => messages.push(String(data)));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(Buffer.from("ls\r"));
    const code = await new Promise((resolve) => socket.once("close", resolve));
    expect(code).toBe(CloseCode.badFrame);
    expect(messages.join()).toContain("not-hello");
  });

  it("refuses an unknown lab and an unknown session with 4404", async () => {
    const lab = await ProtocolClient.connect(server.url, { lab: "no-such-lab" });
    expect(await lab.closed).toBe(CloseCode.notFound);
    expect(lab.errors[0]).toMatchObject({ code: "unknown-lab" });
    const session = await ProtocolClient.connect(server.url, { lab: "sandbox", session: "nope", offset: 0 });
    expect(await session.closed).toBe(CloseCode.notFound);
    expect(session.errors[0]).toMatchObject({ code: "unknown-session" });
  });

  it("takes a large paste whole: 3 MiB in 64 KiB frames reach the program byte for byte", async () => {
    const client = await shell();
    const paste = randomBytes(3 * 1024 * 1024);
    // Raw mode, so the tty passes every byte value through untouched.
    client.type("stty raw -echo -iexten; echo RAW-READY; head -c 3145728 > paste.bin; stty sane; sha256sum paste.bin; rm paste.bin\r");
    await client.waitForText("RAW-READY");
    for (let start = 0; start < paste.byteLength; start += 64 * 1024) client.type(paste.subarray(start, start + 64 * 1024));
    await client.waitForText(createHash("sha256").update(paste).digest("hex"), 30_000);
    expect(client.errors).toEqual([]);
    await client.close();
  });

  it("refuses input beyond the pending limit with input-overflow, and keeps the session", async () => {
    const client = await shell();
    const pid = await shellPid(client);
    // A program that reads nothing, in raw mode so the tty holds input back instead of dropping it.
    client.type("stty raw -echo; sleep 1000\r");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < 6 * 1024 * 1024; sent += chunk.byteLength) client.type(chunk);
    await client.until(() => client.errors.length > 0, 10_000, "an input-overflow error");
    expect(client.errors[0]).toMatchObject({ code: "input-overflow" });
    expect(client.errors[0]!.message).toMatch(/input refused: \d+ bytes are still waiting .*limit 4194304/);
    expect(client.closeCode).toBeUndefined();
    expect(processAlive(pid)).toBe(true);
    await client.close();
  });

  it("closes with 1009 on a frame larger than maxPayload", async () => {
    const client = await shell();
    client.type(Buffer.alloc(2 * 1024 * 1024, 0x61));
    expect(await client.closed).toBe(CloseCode.tooBig);
  });
});
