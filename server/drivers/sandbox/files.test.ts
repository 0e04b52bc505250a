/**
 * The file editor's API as a way out of a sandbox environment: a real lab
 * server with the sandbox driver, a reader's terminal, and the API asked to
 * open and save the host's secrets and the lab server's own files. Each
 * attempt must fail, or show the environment's own file, never the host's.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR } from "../../access.ts";
import { filesRoute } from "../../files-protocol.ts";
import { loadLabs } from "../../labs.ts";
import { ProtocolClient } from "../../testing/protocol-client.ts";
import { authorizedFetch, startTestServer } from "../../testing/lab-server.ts";
import { SandboxDriver, type SandboxEnvironment } from "./sandbox.ts";

const LAB = "k8s-nix-way-part-1";
/** In the lab server's own environment (this process, a Vitest worker): a reader must never see it. */
const SECRET = "VITEST";

let server: Awaited<ReturnType<typeof startTestServer>>;
let terminal: ProtocolClient;
let environment: SandboxEnvironment;

beforeAll(async () => {
  const labs = loadLabs("labs");
  const driver = new SandboxDriver({ dataDir: path.resolve(".lab-data/vitest-sandbox-files"), labs, containerd: "embedded" });
  server = await startTestServer({}, { driver, catalog: labs });
  terminal = await ProtocolClient.connect(server.url, { lab: LAB });
  environment = server.sessions.environment(terminal.welcome!.environment, OPERATOR) as SandboxEnvironment;
});
afterAll(async () => {
  await terminal?.close();
  await server?.close();
});

const sha = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

async function open(filePath: string) {
  const response = await authorizedFetch(new URL(filesRoute(LAB, { environment: environment.id, path: filePath }), server.url));
  return { status: response.status, body: (await response.json()) as { content?: string; error?: string; message?: string } };
}

async function save(filePath: string, content: string) {
  const response = await authorizedFetch(new URL(filesRoute(LAB, { environment: environment.id, path: filePath }), server.url), {
    method: "PUT",
    body: JSON.stringify({ content }),
  });
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string; created?: boolean } };
}

describe("the file API inside a sandbox environment", () => {
  it("reads the environment's files, not the host's: its hostname, its HOME", async () => {
    const own = await open("/etc/hostname");
    expect(own.status).toBe(200);
    expect(own.body.content!.trim()).not.toBe(hostname());
    expect((await environment.runScript("cat /etc/hostname", { timeoutMs: 5000 })).output).toBe(own.body.content);
    expect((await save("~/from-the-editor.txt", "inside\n")).status).toBe(200);
    expect((await environment.runScript("cat /root/from-the-editor.txt", { timeoutMs: 5000 })).output).toBe("inside\n");
  });

  it("cannot read the host's /etc/shadow, directly or through a symlink", async () => {
    expect(existsSync("/etc/shadow")).toBe(true);
    const shadow = await open("/etc/shadow");
    expect(shadow).toMatchObject({ status: 403, body: { error: "no-access" } });
    expect(shadow.body.message).toMatch(/does not let you read \/etc\/shadow \(permission denied\)/);
    await environment.runScript("ln -sf /etc/shadow /root/shadow-link; ln -sfn /proc/1/root /root/root-link", { timeoutMs: 5000 });
    expect(await open("~/shadow-link")).toMatchObject({ status: 403, body: { error: "no-access" } });
    expect(await open("~/root-link/etc/shadow")).toMatchObject({ status: 403, body: { error: "no-access" } });
    // Nor overwrite it: the host's file stays as it was.
    const before = sha(readFileSync("/etc/shadow"));
    expect((await save("/etc/shadow", "root::0:0:::::\n")).status).toBe(403);
    expect(sha(readFileSync("/etc/shadow"))).toBe(before);
  });

  it("sees the environment's own PID 1, never the lab server's environment or the host's PID 1", async () => {
    // environ is NUL-separated: refused as binary, and the refusal quotes none of it.
    const environ = await open("/proc/1/environ");
    expect(environ).toMatchObject({ status: 422, body: { error: "binary" } });
    expect(JSON.stringify(environ.body)).not.toContain(SECRET);
    const init = await open("/proc/1/status");
    expect(init.status).toBe(200);
    // PID 1 of the environment is its init, which the host knows as environment.target.pid.
    const name = (status: string) => /^Name:\s*(.*)$/m.exec(status)?.[1];
    expect(name(init.body.content!)).toBe(name(readFileSync(`/proc/${environment.target.pid}/status`, "utf8")));
    expect(init.body.content).toMatch(/^NSpid:\s*1$/m);
    // The lab server's pid on the host names nothing inside.
    expect(await open(`/proc/${process.pid}/status`)).toMatchObject({ status: 404, body: { error: "not-found" } });
    expect(await open(`/proc/${process.pid}/environ`)).toMatchObject({ status: 404, body: { error: "not-found" } });
    expect(readFileSync("/proc/self/environ", "utf8")).toContain(SECRET);
  });

  it("writes stay inside: /etc/hosts and /tmp are the environment's own, /usr is read-only", async () => {
    const hostHosts = sha(readFileSync("/etc/hosts"));
    expect((await save("/etc/hosts", "127.0.0.1 edited-in-the-editor\n")).status).toBe(200);
    expect((await open("/etc/hosts")).body.content).toBe("127.0.0.1 edited-in-the-editor\n");
    expect(sha(readFileSync("/etc/hosts"))).toBe(hostHosts);

    const stray = `/tmp/nwl-files-escape-${process.pid}`;
    expect((await save(stray, "x\n")).status).toBe(200);
    expect(existsSync(stray)).toBe(false);

    const usr = await save("/usr/bin/nwl-files-escape", "#!/bin/sh\n");
    expect(usr).toMatchObject({ status: 403, body: { error: "no-access" } });
    expect(usr.body.message).toMatch(/Read-only file system/);
    expect(existsSync("/usr/bin/nwl-files-escape")).toBe(false);
  });
});
