/**
 * The door, attacked: every attempt below must be refused with its own
 * assertion, and leave the count of shells and environments unchanged.
 * A real server, real WebSockets, real ptys (the host driver: admission is
 * the same for every driver).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadLabs } from "./labs.ts";
import { CloseCode, PROTOCOL_VERSION, SUBPROTOCOL, encodeMessage } from "./protocol.ts";
import { ProtocolClient, TEST_TOKEN } from "./testing/protocol-client.ts";
import { authorizedFetch, startTestServer, waitUntil } from "./testing/lab-server.ts";

const fixtures = loadLabs(path.join(import.meta.dirname, "testing/fixtures/labs"));
const ALICE = "alice-token-0123456789abcdef";
const BOB = "bob-token-0123456789abcdefgh";
const SECRET = "the-operators-secret-4711";
const ALLOWED_ORIGIN = "https://static.example.org";

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;

beforeAll(async () => {
  // A variable of the server's own environment: no reader may see it.
  process.env.NWL_TEST_OPERATOR_SECRET = SECRET;
  server = await startTestServer(
    {
      allowOrigins: [ALLOWED_ORIGIN],
      limits: { graceMs: 60_000, environmentGraceMs: 500, maxEnvironmentsPerReader: 2, maxSessionsPerReader: 3 },
    },
    { labs: ["sandbox"], catalog: fixtures },
  );
  writeFileSync(path.join(server.dataDir, "readers"), `# test readers\nalice ${ALICE}\nbob ${BOB}\n`);
});
afterAll(async () => {
  delete process.env.NWL_TEST_OPERATOR_SECRET;
  await server?.close();
});

/** Shells on the machine: the pty children of this process (the in-process server's). */
function shellProcesses(): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) count++;
    } catch {
      // gone
    }
  }
  return count;
}

function counts() {
  return { sessions: server.sessions.sessionCount, environments: server.sessions.environmentCount, shells: shellProcesses() };
}

/** An upgrade with the headers a page on another site (or a rebinding one) would send; resolves with the HTTP status or the close. */
function rawUpgrade(headers: Record<string, string>, hello: Record<string, unknown> | undefined): Promise<{ status?: number; close?: number; errors: string[] }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(new URL("ws", server.url.replace(/^http/, "ws")), SUBPROTOCOL, { headers });
    const errors: string[] = [];
    socket.on("unexpected-response", (_request, response) => {
      resolve({ status: response.statusCode, errors });
      socket.terminate();
    });
    socket.on("error", () => {});
    socket.on("open", () => {
      if (hello) socket.send(encodeMessage({ type: "hello", version: PROTOCOL_VERSION, lab: "sandbox", cols: 80, rows: 24, ...hello } as never));
    });
    socket.on("message", (data, isBinary) => {
      if (!isBinary) errors.push((JSON.parse(data.toString()) as { code?: string }).code ?? "");
    });
    socket.on("close", (code) => resolve({ close: code, errors }));
  });
}

async function runIn(client: ProtocolClient, command: string, marker: string): Promise<string> {
  client.clearOutput();
  client.type(`${command}; echo ${marker}-$((1+1))\r`);
  const text = await client.waitForText(`${marker}-2`);
  return text;
}

describe("the door: no token, no shell", () => {
  it("refuses a hello without a token with 4401, and starts nothing", async () => {
    const before = counts();
    const result = await rawUpgrade({}, {});
    expect(result.close).toBe(CloseCode.unauthorized);
    expect(result.errors).toContain("unauthorized");
    expect(counts()).toEqual(before);
  });

  it("refuses a wrong token with 4401, and starts nothing", async () => {
    const before = counts();
    const result = await rawUpgrade({}, { token: `${TEST_TOKEN}x` });
    expect(result.close).toBe(CloseCode.unauthorized);
    expect(counts()).toEqual(before);
  });

  it("refuses a page of another origin at the upgrade (403), even with the right token", async () => {
    const before = counts();
    const result = await rawUpgrade({ origin: "http://evil.example:4791" }, { token: TEST_TOKEN });
    expect(result.status).toBe(403);
    expect(counts()).toEqual(before);
  });

  it("refuses an opaque origin (sandboxed frame, file://) at the upgrade", async () => {
    const result = await rawUpgrade({ origin: "null" }, { token: TEST_TOKEN });
    expect(result.status).toBe(403);
  });

  it("refuses a DNS-rebinding page (its own name in Host, same origin) at the upgrade", async () => {
    const before = counts();
    const port = new URL(server.url).port;
    const result = await rawUpgrade({ host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, { token: TEST_TOKEN });
    expect(result.status).toBe(403);
    expect(counts()).toEqual(before);
  });

  it("refuses a DNS-rebinding page's API calls too (its own name in Host), token or not", async () => {
    const port = new URL(server.url).port;
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const sent = httpRequest(new URL("api/labs", server.url), { headers: { host, authorization: `Bearer ${TEST_TOKEN}` } }, (response) => {
          resolve(response.statusCode!);
          response.resume();
        });
        sent.on("error", reject);
        sent.end();
      });
    expect(await status(`evil.example:${port}`)).toBe(403);
    expect(await status(`127.0.0.1:${port}`)).toBe(200);
  });

  it("lets in the server's own page and a non-browser client with the token", async () => {
    const port = new URL(server.url).port;
    const page = await ProtocolClient.connect(server.url, { origin: `http://127.0.0.1:${port}` });
    expect(page.welcome).toBeDefined();
    expect(await runIn(page, "id -u", "OWN")).toContain("OWN-2");
    await page.close();
  });
});

describe("readers of a workshop", () => {
  // Each test starts with no environment held (they end 500 ms after their last terminal).
  beforeEach(() => waitUntil(() => server.sessions.environmentCount === 0, 5000, "earlier environments to end"));

  it("does not hand one reader's session (or its replay) to another", async () => {
    const alice = await ProtocolClient.connect(server.url, { token: ALICE });
    await runIn(alice, "echo alice-private-words", "A");
    const before = counts();
    const bob = await ProtocolClient.connect(server.url, { token: BOB, session: alice.welcome!.session, offset: 0 });
    expect(bob.welcome).toBeUndefined();
    expect(bob.closeCode).toBe(CloseCode.notFound);
    expect(bob.errors.map((error) => error.code)).toEqual(["unknown-session"]);
    expect(bob.text).not.toContain("alice-private-words");
    expect(counts()).toEqual(before);
    // Alice's shell was not taken over: it still answers her.
    expect(await runIn(alice, "true", "STILL")).toContain("STILL-2");
    await alice.close();
  });

  it("gives a reader naming another's environment one of their own", async () => {
    const alice = await ProtocolClient.connect(server.url, { token: ALICE });
    await runIn(alice, "echo secret > alice-file", "W");
    const bob = await ProtocolClient.connect(server.url, { token: BOB, environment: alice.welcome!.environment });
    expect(bob.welcome!.environment).not.toBe(alice.welcome!.environment);
    expect(await runIn(bob, "cat alice-file 2>&1", "R")).toContain("No such file");
    await Promise.all([alice.close(), bob.close()]);
  });

  it("answers a check, a solve or a catch-up in another reader's environment as if it did not exist, and runs nothing there", async () => {
    const alice = await ProtocolClient.connect(server.url, { token: ALICE, lab: "fixture-overlap" });
    const body = JSON.stringify({ environment: alice.welcome!.environment });
    for (const action of ["check", "solve", "catch-up"]) {
      const asBob = await authorizedFetch(new URL(`api/labs/fixture-overlap/checkpoints/alone/${action}`, server.url), { method: "POST", body }, BOB);
      expect(asBob.status, action).toBe(404);
      expect(((await asBob.json()) as { error: string }).error, action).toBe("unknown-environment");
    }
    // Nothing ran in Alice's environment: a solve there would have shown in her terminal.
    expect(alice.environmentEvents.filter((event) => event.type === "activity")).toEqual([]);
    const asAlice = await authorizedFetch(new URL("api/labs/fixture-overlap/checkpoints/alone/check", server.url), { method: "POST", body }, ALICE);
    expect(asAlice.status).toBe(200);
    await alice.close();
  });

  it("holds a reader to their share of environments and terminals (4429), others unaffected", async () => {
    // A reader has one environment per lab: two labs make two environments, a third lab is one too many.
    const mine: ProtocolClient[] = [];
    for (const lab of ["sandbox", "fixture-overlap"]) mine.push(await ProtocolClient.connect(server.url, { token: ALICE, lab }));
    const before = counts();
    const third = await ProtocolClient.connect(server.url, { token: ALICE, lab: "fixture-steps" });
    expect(third.closeCode).toBe(CloseCode.limitReached);
    expect(third.errors[0]?.message).toMatch(/lab environments with terminals open/);
    expect(counts()).toEqual(before);
    // A terminal joining an environment she has is fine, up to the terminal limit (3).
    mine.push(await ProtocolClient.connect(server.url, { token: ALICE, environment: mine[0]!.welcome!.environment }));
    const fourth = await ProtocolClient.connect(server.url, { token: ALICE, environment: mine[0]!.welcome!.environment });
    expect(fourth.closeCode).toBe(CloseCode.limitReached);
    expect(fourth.errors[0]?.message).toMatch(/terminals/);
    const bob = await ProtocolClient.connect(server.url, { token: BOB });
    expect(bob.welcome).toBeDefined();
    await Promise.all([...mine, bob].map((client) => client.close()));
  });
});

describe("a burst of hellos", () => {
  beforeEach(() => waitUntil(() => server.sessions.environmentCount === 0, 5000, "earlier environments to end"));

  it("holds a reader's environments at the limit: each new one replaces the longest-idle one", async () => {
    let most = 0;
    const labs = ["sandbox", "fixture-overlap", "fixture-steps"];
    for (let i = 0; i < 12; i++) {
      // One environment per lab: hellos for three labs in turn need a new environment each time.
      const client = await ProtocolClient.connect(server.url, { token: ALICE, lab: labs[i % labs.length] });
      expect(client.welcome, `hello ${i}: ${client.closeReason}`).toBeDefined();
      most = Math.max(most, server.sessions.environmentCount);
      await client.close();
    }
    // maxEnvironmentsPerReader is 2 on this server; the burst made one environment per hello.
    expect(most).toBeLessThanOrEqual(2);
    expect(server.sessions.environmentCount).toBeLessThanOrEqual(2);
  });
});

describe("the HTTP API", () => {
  const checkUrl = () => new URL("api/labs/fixture-overlap/checkpoints/alone/check", server.url);

  it("refuses a call without a token, or with a wrong one (401)", async () => {
    expect((await fetch(new URL("api/labs", server.url))).status).toBe(401);
    expect((await authorizedFetch(new URL("api/labs", server.url), {}, "not-the-token-at-all")).status).toBe(401);
  });

  it("takes JSON only: a form post from any site gets 415 and runs nothing", async () => {
    const response = await authorizedFetch(checkUrl(), { method: "POST", headers: { "content-type": "text/plain" }, body: '{"environment":"x"}' });
    expect(response.status).toBe(415);
  });

  it("refuses another origin with 403 and no CORS headers, preflight included", async () => {
    const call = await authorizedFetch(new URL("api/labs", server.url), { headers: { origin: "http://evil.example" } });
    expect(call.status).toBe(403);
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await fetch(checkUrl(), { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers an allowed origin (a static deploy) with CORS headers that let it send the token", async () => {
    const preflight = await fetch(checkUrl(), { method: "OPTIONS", headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  it("keeps /metrics for the operator's token", async () => {
    expect((await fetch(new URL("metrics", server.url))).status).toBe(401);
    expect((await authorizedFetch(new URL("metrics", server.url), {}, ALICE)).status).toBe(403);
    const metrics = await authorizedFetch(new URL("metrics", server.url));
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/^nwl_sessions \d+$/m);
    expect(text).toMatch(/^nwl_refused_total\{reason="unauthorized"\} [1-9]/m);
    // Earlier tests' shells printed and were typed into: both directions are counted.
    expect(text).toMatch(/^nwl_terminal_bytes_total\{direction="out"\} [1-9]/m);
    expect(text).toMatch(/^nwl_terminal_bytes_total\{direction="in"\} [1-9]/m);
    expect(text).not.toContain(TEST_TOKEN);
  });

  it("tells /healthz counts to the operator only", async () => {
    const public_ = (await (await fetch(new URL("healthz", server.url))).json()) as Record<string, unknown>;
    expect(public_.status).toBe("ok");
    expect(public_.sessions).toBeUndefined();
    const operator = (await (await authorizedFetch(new URL("healthz", server.url))).json()) as Record<string, unknown>;
    expect(typeof operator.sessions).toBe("number");
  });

  it("sends the security headers on every response", async () => {
    for (const route of ["healthz", "api/labs", "no-such-page"]) {
      const response = await authorizedFetch(new URL(route, server.url));
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors");
    }
  });
});

describe("a reader's shell", () => {
  it("starts from a clean environment: the server's variables are not in it", async () => {
    expect(process.env.NWL_TEST_OPERATOR_SECRET).toBe(SECRET);
    const client = await ProtocolClient.connect(server.url);
    const text = await runIn(client, 'echo "[${NWL_TEST_OPERATOR_SECRET:-unset}]"; env | grep -c "^npm_" || true', "ENV");
    expect(text).toContain("[unset]");
    expect(text).not.toContain(SECRET);
    await client.close();
  });

  it("gets no bigger screen than the limit, whatever the hello asks", async () => {
    const client = await ProtocolClient.connect(server.url, { cols: 1000, rows: 1000 });
    expect(await runIn(client, "stty size", "SIZE")).toContain("200 500");
    await client.close();
  });
});
