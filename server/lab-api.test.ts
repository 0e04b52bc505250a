/**
 * The Check button's path end to end: a terminal session over a real
 * WebSocket in a host-namespaces environment, then the lab API running the
 * lab's own check in that environment, before and after the reader's step.
 */
import { request as httpRequest } from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { loadLabs } from "./labs.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { authorizedFetch, startTestServer } from "./testing/lab-server.ts";

const LAB = "k8s-nix-way-part-1";
const labs = loadLabs("labs");
let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  const driver = new NamespacesDriver({ dataDir: path.resolve(".lab-data/vitest-api"), labs, maxScriptOutputBytes: 65536 });
  server = await startTestServer({}, { driver, catalog: labs });
});
afterAll(async () => {
  await server?.close();
});

async function check(checkpoint: string, body: unknown, lab = LAB) {
  const response = await authorizedFetch(new URL(`api/labs/${lab}/checkpoints/${checkpoint}/check`, server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("lab API", () => {
  it("lists the labs and their checkpoints", async () => {
    const response = await authorizedFetch(new URL("api/labs", server.url));
    const { labs: listed } = (await response.json()) as { labs: { id: string; checkpoints: { id: string }[] }[] };
    expect(listed.map((lab) => lab.id)).toContain(LAB);
    expect(listed.find((lab) => lab.id === LAB)!.checkpoints.map((c) => c.id)).toContain("cni-fixed");
  });

  it("runs a checkpoint's own check in the reader's environment: fails before the step, passes after", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    const environment = terminal.welcome!.environment;
    const before = await check("containerd-reachable", { environment });
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ passed: false });
    expect(typeof before.body.hint).toBe("string");
    terminal.type("ctr version | tee containerd-version.txt; echo VERSION-SAVED-$((1+1))\r");
    await terminal.waitForText("VERSION-SAVED-2", 20_000);
    const after = await check("containerd-reachable", { environment });
    expect(after.body).toMatchObject({ passed: true });
    expect(Number(after.body.durationMs)).toBeGreaterThan(0);
    await terminal.close();
  });

  it("answers bad requests with a clear error and runs nothing", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    const environment = terminal.welcome!.environment;
    expect(await check("no-such-checkpoint", { environment })).toMatchObject({ status: 404, body: { error: "unknown-checkpoint" } });
    expect(await check("cni-fixed", { environment }, "no-such-lab")).toMatchObject({ status: 404, body: { error: "unknown-checkpoint" } });
    expect(await check("cni-fixed", "{oops")).toMatchObject({ status: 400, body: { error: "bad-request" } });
    expect(await check("cni-fixed", { environment: "$(rm -rf /)" })).toMatchObject({ status: 400, body: { error: "bad-request" } });
    expect(await check("cni-fixed", { environment: "unknownenvironment" })).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    expect(await check("cni-fixed", { environment, script: "touch /tmp/pwned" })).toMatchObject({ status: 200, body: { passed: false } });
    await terminal.close();
  });

  it("refuses a body over its limit, declared or sent in chunks, and closes that connection (the rest of the body is still coming)", async () => {
    /** A POST of `size` bytes of JSON, with a Content-Length or chunked: its status and Connection header. */
    const post = (size: number, chunked: boolean) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const body = Buffer.from(JSON.stringify({ environment: "x".repeat(size) }));
        const url = new URL(`api/labs/${LAB}/checkpoints/cni-fixed/check`, server.url);
        const sent = httpRequest(url, {
          method: "POST",
          headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json", ...(chunked ? {} : { "content-length": body.byteLength }) },
        });
        sent.on("response", (response) => {
          resolve({ status: response.statusCode!, connection: response.headers.connection });
          response.resume();
        });
        sent.on("error", reject);
        if (chunked) for (let at = 0; at < body.byteLength; at += 1024) sent.write(body.subarray(at, at + 1024));
        else sent.write(body);
        sent.end();
      });
    for (const chunked of [false, true]) expect(await post(64 * 1024, chunked), chunked ? "chunked" : "declared").toEqual({ status: 413, connection: "close" });
  });
});
