/**
 * The file editor's API end to end: a real lab server with the
 * host-namespaces driver and Part 1's lab, a terminal over a real WebSocket
 * making files, the API opening and saving them in that environment, and
 * the lab's own check (and a check-like script) reading what was saved.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inviteReader, OPERATOR } from "./access.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { FileContent, FileSaved, MAX_FILE_BYTES, filesRoute } from "./files-protocol.ts";
import { loadLabs } from "./labs.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { authorizedFetch, startTestServer } from "./testing/lab-server.ts";

const LAB = "k8s-nix-way-part-1";
const labs = loadLabs("labs");
let server: Awaited<ReturnType<typeof startTestServer>>;
let terminal: ProtocolClient;
let environment: string;

beforeAll(async () => {
  const driver = new NamespacesDriver({ dataDir: path.resolve(".lab-data/vitest-files"), labs, maxScriptOutputBytes: 65536 });
  server = await startTestServer({}, { driver, catalog: labs });
  terminal = await ProtocolClient.connect(server.url, { lab: LAB });
  environment = terminal.welcome!.environment;
});
afterAll(async () => {
  await terminal?.close();
  await server?.close();
});

let marks = 0;
/** Types a command line in the reader's terminal and waits until it has run. */
async function inTerminal(line: string): Promise<void> {
  const mark = `DONE-${++marks}`;
  // The mark is split in the typed line, so only its output (not the echo) matches.
  terminal.type(`${line}; echo "DONE-""${marks}"\r`);
  await terminal.waitForText(new RegExp(`^${mark}\\r?$`, "m"), 20_000);
}

function fileUrl(filePath: string, options: { environment?: string; lab?: string } = {}): URL {
  return new URL(filesRoute(options.lab ?? LAB, { environment: options.environment ?? environment, path: filePath }), server.url);
}

async function open(filePath: string, options: { environment?: string; lab?: string; token?: string } = {}) {
  const response = await authorizedFetch(fileUrl(filePath, options), {}, options.token);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function save(filePath: string, content: string, options: { environment?: string; token?: string } = {}) {
  const response = await authorizedFetch(fileUrl(filePath, options), { method: "PUT", body: JSON.stringify({ content }) }, options.token);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function check(checkpoint: string) {
  const response = await authorizedFetch(new URL(`api/labs/${LAB}/checkpoints/${checkpoint}/check`, server.url), {
    method: "POST",
    body: JSON.stringify({ environment }),
  });
  return (await response.json()) as { passed: boolean; output: string };
}

describe("file editor API", () => {
  it("opens a file the reader made in the terminal, by ~ path, absolute path and relative path", async () => {
    await inTerminal("printf 'made in the terminal\\n' > ~/notes.txt");
    const byHome = await open("~/notes.txt");
    expect(byHome.status).toBe(200);
    const content = FileContent.parse(byHome.body);
    expect(content).toMatchObject({ path: "~/notes.txt", content: "made in the terminal\n", size: 21 });
    expect(content.mtimeMs).toBeGreaterThan(Date.now() - 120_000);
    expect((await open("notes.txt")).body.content).toBe("made in the terminal\n");
    const home = (await server.sessions.environment(environment, OPERATOR)!.runScript('printf %s "$HOME"', { timeoutMs: 5000 })).output;
    expect((await open(`${home}/notes.txt`)).body.content).toBe("made in the terminal\n");
  });

  it("saves a file that the lab's own check then sees: Part 1's first checkpoint written with the editor", async () => {
    expect((await check("nix-layout")).passed).toBe(false);
    await inTerminal("mkdir -p ~/k8s");
    const files: Record<string, string> = {
      "~/k8s/default.nix": "{ ... }:\n{\n  imports = [\n    ./etcd.nix\n    ./containerd.nix\n  ];\n}\n",
      "~/k8s/etcd.nix": "{ ... }: { }\n",
      "~/k8s/containerd.nix": "{ ... }: { }\n",
      "~/k8s/lib.nix": "{ }\n",
    };
    for (const [file, text] of Object.entries(files)) {
      const saved = await save(file, text);
      expect(saved.status).toBe(200);
      expect(FileSaved.parse(saved.body)).toMatchObject({ path: file, size: Buffer.byteLength(text), created: true });
    }
    await inTerminal("cd ~ && git init -q . && git add k8s");
    const result = await check("nix-layout");
    expect(result.output).toContain("git tracks them all");
    expect(result.passed).toBe(true);
  });

  it("saves over an existing file in place, and a check-like script reads exactly what was saved", async () => {
    const text = "überall: ✓\n\ttabs, \"quotes\", $(not run) `nor this`\r\nno final newline";
    const first = await save("~/notes.txt", text);
    expect(first.body).toMatchObject({ created: false, size: Buffer.byteLength(text) });
    const env = server.sessions.environment(environment, OPERATOR)!;
    const readBack = await env.runScript("base64 -w0 ~/notes.txt", { timeoutMs: 5000 });
    expect(Buffer.from(readBack.output, "base64").toString("utf8")).toBe(text);
    expect((await open("~/notes.txt")).body.content).toBe(text);
    // An empty file is a file too.
    expect((await save("~/notes.txt", "")).status).toBe(200);
    expect((await open("~/notes.txt")).body).toMatchObject({ content: "", size: 0 });
  });

  it("does not silently undo a change made in the terminal since the file was opened", async () => {
    await inTerminal("printf 'first\\n' > ~/shared.txt");
    const opened = FileContent.parse((await open("~/shared.txt")).body);
    const saveOn = async (content: string, base?: string | null) => {
      const response = await authorizedFetch(fileUrl("~/shared.txt"), { method: "PUT", body: JSON.stringify(base === undefined ? { content } : { content, base }) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    // Unchanged since it was opened: saved, and the new version is what an open then says.
    const first = await saveOn("editor one\n", opened.version);
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(FileContent.parse((await open("~/shared.txt")).body).version);
    // Changed from the terminal meanwhile: refused with words, the terminal's text kept.
    await inTerminal("echo 'from the terminal' >> ~/shared.txt");
    const stale = await saveOn("editor two\n", first.body.version as string);
    expect(stale).toMatchObject({ status: 409, body: { error: "changed" } });
    expect(stale.body.message).toMatch(/~\/shared\.txt changed in your lab environment since the editor opened it.*Reload.*Save again to overwrite/);
    expect((await open("~/shared.txt")).body.content).toBe("editor one\nfrom the terminal\n");
    // Opened as a new file, but made meanwhile; or deleted meanwhile.
    expect(await saveOn("x", null)).toMatchObject({ status: 409, body: { error: "changed" } });
    await inTerminal("rm ~/shared.txt");
    const deleted = await saveOn("x", first.body.version as string);
    expect(deleted.body.message).toMatch(/was deleted/);
    // Without a base, the reader's choice to overwrite: saved.
    expect((await saveOn("editor three\n")).status).toBe(200);
    expect((await open("~/shared.txt")).body.content).toBe("editor three\n");
  });

  it("takes a path as a name, never as shell text", async () => {
    const marker = `pwned-${process.pid}`;
    const odd = `~/odd $(touch ${marker}) \`touch ${marker}\` ; touch ${marker} 'q' "dq" -n.txt`;
    expect((await save(odd, "odd\n")).status).toBe(200);
    expect((await open(odd)).body.content).toBe("odd\n");
    const dash = "-rf";
    expect((await save(dash, "a file named -rf\n")).status).toBe(200);
    expect((await open(dash)).body.content).toBe("a file named -rf\n");
    await inTerminal(`ls -1 ~ > ~/listing.txt`);
    const listing = (await open("~/listing.txt")).body.content as string;
    expect(listing).toContain(`odd $(touch ${marker})`);
    expect(listing).toContain("-rf");
    // The shell of the environment (its HOME is where a `touch` would land) finds no marker.
    expect(listing).not.toMatch(new RegExp(`^${marker}$`, "m"));
  });

  it("answers each way a file cannot be opened or saved with words for the reader", async () => {
    const missing = await open("~/no-such-file.nix");
    expect(missing).toMatchObject({ status: 404, body: { error: "not-found" } });
    expect(missing.body.message).toMatch(/No such file in your lab environment: ~\/no-such-file\.nix.*save/);
    // Saving creates it, when its folder exists; a missing folder is named.
    expect((await save("~/no-such-file.nix", "{ }\n")).body).toMatchObject({ created: true });
    const noFolder = await save("~/nowhere/x.nix", "{ }\n");
    expect(noFolder).toMatchObject({ status: 404, body: { error: "folder-not-found" } });
    expect(noFolder.body.message).toContain("mkdir -p ~/nowhere");
    expect(await open("~/k8s")).toMatchObject({ status: 422, body: { error: "is-a-folder" } });
    expect(await save("~/k8s", "x")).toMatchObject({ status: 422, body: { error: "is-a-folder" } });
    expect(await open("/dev/null")).toMatchObject({ status: 422, body: { error: "not-a-file" } });

    await inTerminal("printf 'a\\0b' > ~/binary.bin; printf 'caf\\xe9\\n' > ~/latin1.txt");
    const binary = await open("~/binary.bin");
    expect(binary).toMatchObject({ status: 422, body: { error: "binary" } });
    expect(binary.body.message).toMatch(/binary file/);
    expect(await open("~/latin1.txt")).toMatchObject({ status: 422, body: { error: "not-utf8" } });
  });

  it("refuses files over the limit both ways, with the limit in words", async () => {
    await inTerminal(`head -c ${MAX_FILE_BYTES + 1} /dev/zero | tr '\\0' a > ~/big.txt; head -c ${MAX_FILE_BYTES} /dev/zero | tr '\\0' b > ~/just-fits.txt`);
    const big = await open("~/big.txt");
    expect(big).toMatchObject({ status: 413, body: { error: "too-large" } });
    expect(big.body.message).toMatch(/~\/big\.txt is 1,048,577 bytes; the editor opens files of up to 1 MiB.*terminal/);
    const fits = await open("~/just-fits.txt");
    expect(fits.status).toBe(200);
    expect((fits.body.content as string).length).toBe(MAX_FILE_BYTES);
    const tooBig = await save("~/big-save.txt", "c".repeat(MAX_FILE_BYTES + 1));
    expect(tooBig).toMatchObject({ status: 413, body: { error: "too-large" } });
    expect(tooBig.body.message).toMatch(/up to 1 MiB/);
    // Far over: refused while the body is read, not after.
    const huge = await save("~/huge.txt", "d".repeat(3 * MAX_FILE_BYTES));
    expect(huge).toMatchObject({ status: 413, body: { error: "too-large" } });
    expect((await open("~/huge.txt")).status).toBe(404);
  });

  it("admits only the environment's reader, with the token, and JSON", async () => {
    const noToken = await fetch(fileUrl("~/notes.txt"));
    expect(noToken.status).toBe(401);
    const noTokenSave = await fetch(fileUrl("~/notes.txt"), { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ content: "x" }) });
    expect(noTokenSave.status).toBe(401);

    const carol = inviteReader(path.join(server.dataDir, "readers"), "carol");
    const theirs = await open("~/notes.txt", { token: carol });
    expect(theirs).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    expect(await save("~/notes.txt", "carol was here", { token: carol })).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    expect(await open("~/notes.txt", { environment: "unknownenvironment" })).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    expect(await open("~/notes.txt", { lab: "another-lab" })).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    expect((await open("~/notes.txt")).body.content).not.toBe("carol was here");

    const plain = await authorizedFetch(fileUrl("~/notes.txt"), { method: "PUT", headers: { "content-type": "text/plain" }, body: "x" });
    expect(plain.status).toBe(415);
    const badBody = await authorizedFetch(fileUrl("~/notes.txt"), { method: "PUT", body: JSON.stringify({ text: "x" }) });
    expect(badBody.status).toBe(400);
    const nul = await authorizedFetch(fileUrl("~/notes.txt"), { method: "PUT", body: JSON.stringify({ content: "a\u0000b" }) });
    expect(nul.status).toBe(400);
    const deleted = await authorizedFetch(fileUrl("~/notes.txt"), { method: "DELETE", headers: { "content-type": "application/json" } });
    expect(deleted.status).toBe(405);
    const newline = await authorizedFetch(new URL(`api/labs/${LAB}/files?environment=${environment}&path=${encodeURIComponent("a\nb")}`, server.url));
    expect(newline.status).toBe(400);
    const noPath = await authorizedFetch(new URL(`api/labs/${LAB}/files?environment=${environment}`, server.url));
    expect(noPath.status).toBe(400);
    const foreignOrigin = await authorizedFetch(fileUrl("~/notes.txt"), { headers: { origin: "http://evil.example" } });
    expect(foreignOrigin.status).toBe(403);
  });
});

describe("file editor API with the host driver", () => {
  it("reads and writes in the environment's own working directory (its HOME), as its shell does", async () => {
    const host = await startTestServer({}, { labs: ["files"] });
    const shell = await ProtocolClient.connect(host.url, { lab: "files" });
    try {
      const id = shell.welcome!.environment;
      const url = (filePath: string) => new URL(filesRoute("files", { environment: id, path: filePath }), host.url);
      const saved = await authorizedFetch(url("~/hello.txt"), { method: "PUT", body: JSON.stringify({ content: "from the editor\n" }) });
      expect(saved.status).toBe(200);
      const env = host.sessions.environment(id, OPERATOR)!;
      const result = await env.runScript('pwd; cat "$HOME/hello.txt"', { timeoutMs: 5000 });
      const [home, text] = result.output.split("\n");
      expect(home).toContain(path.join(host.dataDir, "environments", id));
      expect(text).toBe("from the editor");
      const opened = await authorizedFetch(url(`${home}/hello.txt`));
      expect(((await opened.json()) as { content: string }).content).toBe("from the editor\n");
    } finally {
      await shell.close();
      await host.close();
    }
  });
});
