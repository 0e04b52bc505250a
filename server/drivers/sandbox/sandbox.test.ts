/**
 * The sandbox driver against the real thing: user, PID, mount, network, IPC,
 * UTS and cgroup namespaces, a pivoted root, each environment's own
 * registry and containerd, cgroup v1 limits. Needs root and the Debian
 * packages (prepare() names what is missing). The escape attempts are in
 * escape.test.ts, the Part 1 lab in part-1.test.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLabs } from "../../labs.ts";
import type { DriverHealth } from "../driver.ts";
import { sandboxAvailability } from "./availability.ts";
import { cgroupLayout, createEnvironmentCgroups, DEFAULT_LIMITS, readLimit } from "../../environment/cgroups.ts";
import { NAMESPACES } from "./enter.ts";
import { SandboxDriver, sameProcess, sandboxLeftovers, type SandboxEnvironment, type SandboxRecord } from "./sandbox.ts";
import { DEFAULT_SLOTS_DIR, processesInRange, RANGE_SIZE, SlotRegistry } from "./slots.ts";
import { insideOnly, PtyShell, until } from "./test-helpers.ts";

const LAB = "k8s-nix-way-part-1";
const DATA_DIR = path.resolve(".lab-data/vitest-sandbox");
const LOOPBACK = `{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"loopback"}]}`;
const RUN_CNI = "ctr run --cni --rm docker.io/library/busybox:latest probe-$$ ip addr show lo";

const driver = new SandboxDriver({ dataDir: DATA_DIR, labs: loadLabs("labs"), maxScriptOutputBytes: 4096, containerd: "embedded", healthPollMs: 100 });

async function create(): Promise<SandboxEnvironment> {
  return (await driver.createEnvironment(LAB)) as SandboxEnvironment;
}

async function run(environment: SandboxEnvironment, script: string, timeoutMs = 20_000) {
  return environment.runScript(script, { timeoutMs });
}

beforeAll(async () => {
  await driver.prepare([LAB]);
});

afterAll(async () => {
  await driver.close();
});

describe("sandbox driver", () => {
  it("says this host can run it", () => {
    expect(SandboxDriver.available()).toEqual({ ok: true, cgroupVersion: 1 });
  });

  it("makes the reader uid 0 of a user namespace whose ids are a range of its own on the host", async () => {
    const environment = await create();
    try {
      const { record, target } = environment;
      expect(record.base).toBe(1_000_000 + record.slot * RANGE_SIZE);
      const result = await run(environment, "id -u; cat /proc/self/uid_map /proc/self/gid_map; echo $HOME; pwd; env | sort | grep -c '^CONTAINERD_'; hostname; stat -c %U /etc/passwd");
      expect(result.output.split("\n")).toEqual([
        "0",
        `         0    ${record.base}      65536`,
        `         0    ${record.base}      65536`,
        "/root",
        "/root",
        "0",
        `lab-${environment.id.slice(0, 8)}`,
        // Host files belong to nobody inside.
        "nobody",
        "",
      ]);
      // Every namespace is its own; the host sees its processes as the range's uids.
      for (const name of NAMESPACES) expect(statSync(`/proc/${target.pid}/ns/${name}`).ino).not.toBe(statSync(`/proc/self/ns/${name}`).ino);
      expect(readFileSync(`/proc/${target.pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${record.base}\\s`, "m"));
      // Its folder is 0700 and its base uid's.
      const folder = statSync(environment.dir);
      expect([folder.uid, folder.mode & 0o777]).toEqual([record.base, 0o700]);
    } finally {
      await environment.dispose();
    }
  });

  it("opens a login shell on a real pty of the environment's own devpts", async () => {
    const environment = await create();
    const pty = new PtyShell(environment);
    try {
      const argv = environment.shellCommand();
      expect(argv.args).toContain("-i");
      expect(argv.args.filter((arg) => arg.startsWith("--") && arg.includes("/proc/self/fd/"))).toEqual([
        "--user=/proc/self/fd/3", "--mount=/proc/self/fd/4", "--net=/proc/self/fd/5", "--pid=/proc/self/fd/6",
        "--ipc=/proc/self/fd/7", "--uts=/proc/self/fd/8", "--cgroup=/proc/self/fd/9", "--root=/proc/self/fd/10", "--wd=/proc/self/fd/10",
      ]);
      const out = await pty.run('tty; echo "uid=$(id -u) home=$HOME pwd=$(pwd) shell=$0"; ls /proc/self/fd | tr "\\n" " "');
      expect(out).toContain("/dev/pts/0");
      expect(out).toContain("uid=0 home=/root pwd=/root shell=");
      // Only stdin, stdout, stderr and ls's own directory fd: no fd of the host leaks in.
      expect(out).toMatch(/\n0 1 2 3 __END_/);
      // The shell is inside the environment's cgroups (their root, in its cgroup namespace).
      expect(await pty.run("grep memory /proc/self/cgroup")).toContain(":memory:/\n");
      pty.shell.write(Buffer.from("exit 3\r"));
      expect(await pty.exited).toBe(3);
    } finally {
      pty.kill();
      await environment.dispose();
    }
  });

  it("ends a terminal's background jobs with its shell, whether the shell exits or the terminal is closed", async () => {
    const environment = await create();
    const running = async (tag: string) => (await run(environment, `ps -eo stat=,args= | awk '$1 !~ /^Z/ && /[s]leep ${tag}/' | wc -l`)).output.trim();
    try {
      const exiting = new PtyShell(environment);
      await exiting.run("sleep 601 & sleep 602 & true");
      expect(await running("60[12]")).toBe("2");
      exiting.shell.write(Buffer.from("exit 4\r"));
      expect(await exiting.exited).toBe(4);
      await until(async () => (await running("60[12]")) === "0", 3000, "the exited shell's jobs to end");
      const closed = new PtyShell(environment);
      await closed.run("sleep 603 & true");
      expect(await running("603")).toBe("1");
      closed.kill();
      await until(async () => (await running("603")) === "0", 3000, "the closed terminal's jobs to end");
    } finally {
      await environment.dispose();
    }
  });

  it("stops the attached `ctr task start` that Ctrl+C cannot (sleep is PID 1 in its container), and never the shell", async () => {
    const environment = await create();
    const pty = new PtyShell(environment);
    try {
      await pty.run("ctr image pull docker.io/library/busybox:latest >/dev/null && ctr container create docker.io/library/busybox:latest stuck sleep 2000", 60_000);
      expect(pty.shell.stopForeground?.()).toBeUndefined();
      const from = pty.output.length;
      pty.shell.write(Buffer.from("ctr task start stuck\r"));
      await until(async () => (await run(environment, "ctr task ls")).output.includes("RUNNING"), 15_000, "the task to run");
      pty.shell.write(Buffer.from("\x03"));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(pty.output.slice(from)).not.toContain("133;A");
      const stoppedAt = pty.output.length;
      expect(pty.shell.stopForeground?.()).toBe("ctr task start stuck");
      // The shell's prompt is back (its OSC 133;A mark) before the reader types again.
      await until(() => pty.output.indexOf("\x1b]133;A\x07", stoppedAt) >= 0, 10_000, "the prompt after Stop");
      expect(await pty.run("echo back at the prompt")).toContain("back at the prompt");
    } finally {
      pty.kill();
      await environment.dispose();
    }
  });

  it("pulls docker.io images as typed, with no CONTAINERD_ADDRESS or CONTAINERD_NAMESPACE, from its own containerd and registry", async () => {
    const environment = await create();
    const hostHosts = readFileSync("/etc/hosts", "utf8");
    try {
      const pull = await run(environment, "ctr image pull docker.io/library/busybox:latest >/dev/null && ctr images ls -q && ctr namespaces ls -q && ls /run/containerd/containerd.sock && grep registry-1.docker.io /etc/hosts");
      expect(pull.exitCode, pull.output).toBe(0);
      expect(pull.output.split("\n")).toEqual(["docker.io/library/busybox:latest", "default", "/run/containerd/containerd.sock", "127.0.0.2\tregistry-1.docker.io", ""]);
      expect(readFileSync("/etc/hosts", "utf8")).toBe(hostHosts);
      // Its containerd still collects garbage (its GC scheduler is tuned not to wake up while idle).
      const removed = await run(environment, "ctr run --rm docker.io/library/busybox:latest t true && ctr images rm $(ctr images ls -q) >/dev/null; for _ in $(seq 50); do [ -z \"$(ctr content ls -q)$(ctr snapshot ls | tail -n +2)\" ] && break; sleep 0.1; done; ctr content ls -q | wc -l; ctr snapshot ls | tail -n +2 | wc -l");
      expect(removed.output).toBe("0\n0\n");
    } finally {
      await environment.dispose();
    }
  });

  it("keeps two environments apart: one fixes CNI, the other still fails; both run etcd on [::1]:2379", async () => {
    const [a, b] = await Promise.all([create(), create()]);
    try {
      expect(a!.record.slot).not.toBe(b!.record.slot);
      const pulls = await Promise.all([a!, b!].map((environment) => run(environment, "ctr image pull docker.io/library/busybox:latest >/dev/null")));
      for (const pull of pulls) expect(pull.exitCode, pull.output).toBe(0);
      const fix = await run(a!, `echo '${LOOPBACK}' > /etc/cni/net.d/10-loopback.conflist && ${RUN_CNI}`);
      expect(fix.exitCode, fix.output).toBe(0);
      expect(fix.output).toContain("inet 127.0.0.1");
      const other = await run(b!, `ls -A /etc/cni/net.d | wc -l; ${RUN_CNI}`);
      expect(other.exitCode).not.toBe(0);
      expect(other.output).toMatch(/^0\n/);
      expect(other.output).toContain("no network config found in /etc/cni/net.d: cni plugin not initialized");
      await run(a!, "ctr container create docker.io/library/busybox:latest only-in-a true");
      expect((await run(b!, "ctr container ls -q")).output.trim()).toBe("");
      const etcd = "etcd --data-dir etcd-data --listen-client-urls 'http://[::1]:2379' --advertise-client-urls 'http://[::1]:2379' > etcd.log 2>&1 &\n" +
        "until etcdctl --endpoints 'http://[::1]:2379' endpoint health 2>/dev/null; do sleep 0.1; done; etcdctl --endpoints 'http://[::1]:2379' put owner $NWL_ENVIRONMENT >/dev/null";
      for (const result of await Promise.all([a!, b!].map((environment) => run(environment, etcd)))) expect(result.exitCode, result.output).toBe(0);
      const owners = await Promise.all([a!, b!].map((environment) => run(environment, "etcdctl --endpoints 'http://[::1]:2379' get owner --print-value-only")));
      expect(owners.map((owner) => owner.output.trim())).toEqual([a!.id, b!.id]);
      await run(a!, "echo '10.0.0.1 only-a' >> /etc/hosts");
      expect((await run(b!, "grep -c only-a /etc/hosts")).output.trim()).toBe("0");
    } finally {
      await Promise.all([a!.dispose(), b!.dispose()]);
    }
    expect(sandboxLeftovers(a!)).toEqual([]);
    expect(sandboxLeftovers(b!)).toEqual([]);
  });

  it("gives a script its text on stdin but never as its commands' stdin (ctr task start would swallow the rest)", async () => {
    const environment = await create();
    try {
      const result = await run(environment, [
        "ctr image pull docker.io/library/busybox:latest >/dev/null",
        "ctr container create docker.io/library/busybox:latest echo-test echo foo",
        'out=$(ctr task start echo-test 2>&1); echo "out=$out"',
        "cat; echo after-cat",
        "echo last line",
      ].join("\n"));
      expect(result.output).toBe("out=foo\nafter-cat\nlast line\n");
    } finally {
      await environment.dispose();
    }
  });

  it("kills a script at its timeout and bounds its output", async () => {
    const environment = await create();
    try {
      const slow = await run(environment, "echo started; sleep 30", 500);
      expect(slow.timedOut).toBe(true);
      expect(slow.exitCode).toBe(124);
      expect(slow.output).toContain("started");
      expect(slow.durationMs).toBeLessThan(5000);
      // The killed script left nothing running inside.
      // (A zombie, until its new parent, PID 1, reaps it, holds nothing.)
      expect((await run(environment, "ps -eo stat=,comm= | awk '$2 == \"sleep\" && $1 !~ /Z/' | wc -l")).output.trim()).toBe("0");
      const loud = await run(environment, "head -c 100000 /dev/zero | tr '\\0' x");
      expect(loud.output.length).toBeLessThan(4200);
      expect(loud.output).toContain("[output truncated]");
    } finally {
      await environment.dispose();
    }
  });

  it("writes its limits into cgroups whose limit files stay root's; only the directory is the environment's", async () => {
    const environment = await create();
    try {
      const dirs = environment.record.cgroups.dirs;
      const dir = (controller: string) => dirs.find((candidate) => candidate.includes(`/${controller}/`))!;
      expect(readLimit(dir("memory"), "memory.limit_in_bytes")).toBe(String(DEFAULT_LIMITS.memoryBytes));
      expect(readLimit(dir("pids"), "pids.max")).toBe(String(DEFAULT_LIMITS.pids));
      expect(readLimit(dir("cpu"), "cpu.cfs_quota_us")).toBe("100000");
      expect(readLimit(dir("devices"), "devices.list")).not.toContain("a *:* rwm");
      for (const [controller, file] of [["memory", "memory.limit_in_bytes"], ["pids", "pids.max"], ["cpu", "cpu.cfs_quota_us"], ["devices", "devices.allow"]]) {
        expect(statSync(path.join(dir(controller!), file!)).uid, `${controller}/${file}`).toBe(0);
        expect(statSync(dir(controller!)).uid).toBe(environment.record.base);
      }
      // Its PID 1, its containerd and a script are all in them.
      const procs = readFileSync(path.join(dir("memory"), "cgroup.procs"), "utf8");
      expect(procs.split("\n")).toContain(String(environment.target.pid));
      const inside = await run(environment, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep -c . /sys/fs/cgroup/pids/cgroup.procs");
      expect(inside.output.split("\n")[0]).toBe(String(DEFAULT_LIMITS.memoryBytes));
    } finally {
      await environment.dispose();
    }
  });

  it("reports a killed registry as degraded until its PID 1 has restarted it, and an environment that ended", async () => {
    const environment = await create();
    const changes: DriverHealth[] = [];
    const unsubscribe = driver.onHealthChange((health) => changes.push(health));
    try {
      expect(driver.health()).toEqual({ status: "ok", reasons: [] });
      await run(environment, "pkill -9 -f docker-registry");
      await until(() => driver.health().status === "degraded", 2000, "the dead registry to show");
      expect(driver.health().reasons).toEqual([`the image registry of lab environment ${environment.id} is restarting`]);
      await until(() => driver.health().status === "ok", 5000, "the registry to be restarted");
      expect((await run(environment, "ctr image pull docker.io/library/busybox:latest >/dev/null && echo PULLED")).output).toContain("PULLED");
      // A reader's reboot ends the environment (its PID namespace), and only it.
      await run(environment, `${insideOnly()}reboot -f`);
      // (While its PID 1 waits for the rest of its PID namespace to die, only the services look gone.)
      const ended = [`lab environment ${environment.id} has ended: its PID 1 is gone`];
      await until(() => JSON.stringify(driver.health().reasons) === JSON.stringify(ended), 2000, "the ended environment to show");
      expect((await run(environment, "true")).output).toContain("has ended");
      expect(() => environment.openShell({ cols: 80, rows: 24, maxPendingInputBytes: 1024 })).toThrow(/has ended/);
      await until(() => changes.at(-1)?.reasons[0] === ended[0], 2000, "every change to be told");
      expect(changes.map((health) => health.status).slice(0, 3)).toEqual(["degraded", "ok", "degraded"]);
    } finally {
      unsubscribe();
      await environment.dispose();
    }
    expect(driver.health()).toEqual({ status: "ok", reasons: [] });
    expect(sandboxLeftovers(environment)).toEqual([]);
  });

  it("disposes of everything, whatever the reader started: tasks, nested namespaces, setsid daemons", async () => {
    const environment = await create();
    const setup = await run(environment, [
      "ctr image pull docker.io/library/busybox:latest >/dev/null",
      "ctr run -d docker.io/library/busybox:latest running sleep 2000",
      "ctr run --cni docker.io/library/busybox:latest stuck true 2>/dev/null",
      // (Detached from the script's output, or the script would wait for them.)
      "setsid -f unshare --mount --net sleep 777 </dev/null >/dev/null 2>&1",
      "setsid -f unshare --user --map-root-user --pid --fork sleep 778 </dev/null >/dev/null 2>&1",
      "etcd --data-dir /tmp/etcd > /dev/null 2>&1 &",
      "sleep 0.3; ctr task ls",
    ].join("\n"));
    expect(setup.output).toMatch(/running\s+\d+\s+RUNNING/);
    expect(sandboxLeftovers(environment)).toContainEqual(expect.stringMatching(/^processes with its uids: /));
    const started = performance.now();
    await environment.dispose();
    expect(performance.now() - started).toBeLessThan(3000);
    expect(sandboxLeftovers(environment)).toEqual([]);
    const result = await environment.runScript("true", { timeoutMs: 1000 });
    expect(result.output).toContain("has ended");
  });
});

describe("sandbox driver after a lab server was killed", () => {
  it("removes at the next prepare() every environment a SIGKILLed server left running", async () => {
    const dataDir = path.resolve(".lab-data/vitest-sandbox-killed");
    rmSync(path.join(dataDir, "sandboxes"), { recursive: true, force: true });
    // A lab server in a process of its own, killed once its environment is up and busy.
    const child = spawn(process.execPath, ["--input-type=module", "-e", `
      import { SandboxDriver } from ${JSON.stringify(new URL("./sandbox.ts", import.meta.url).href)};
      import { loadLabs } from ${JSON.stringify(new URL("../../labs.ts", import.meta.url).href)};
      const driver = new SandboxDriver({ dataDir: ${JSON.stringify(dataDir)}, labs: loadLabs("labs"), containerd: "embedded" });
      await driver.prepare([${JSON.stringify(LAB)}]);
      const environment = await driver.createEnvironment(${JSON.stringify(LAB)});
      await environment.runScript("ctr image pull docker.io/library/busybox:latest >/dev/null; ctr run -d docker.io/library/busybox:latest t sleep 1000; setsid -f sleep 999 </dev/null >/dev/null 2>&1", { timeoutMs: 20000 });
      console.log(JSON.stringify(environment.record));
    `], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NWL_LOG_LEVEL: "silent" } });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes("\n"), 60_000, "the child server's environment");
    const record = JSON.parse(output) as SandboxRecord;
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    // The environment outlives its server (as after a crash)...
    expect(sameProcess(record.init!.pid, record.init!.start)).toBe(true);
    expect(existsSync(path.join(DEFAULT_SLOTS_DIR, String(record.slot)))).toBe(true);
    // ...until the next server on that data dir prepares.
    const next = new SandboxDriver({ dataDir, labs: loadLabs("labs"), containerd: "embedded" });
    try {
      await next.prepare([LAB]);
      const gone = { record, target: record.init!, dir: record.dir } as unknown as SandboxEnvironment;
      expect(sandboxLeftovers(gone)).toEqual([]);
      expect(sameProcess(record.init!.pid, record.init!.start)).toBe(false);
    } finally {
      await next.close();
    }
  });
});

describe("sandbox driver with its data dir in a folder no other user may enter (a 0700 home, mkdtemp)", () => {
  it("still makes environments that pull from the shared storage", async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "nwl-sandbox-private-"));
    expect(statSync(parent).mode & 0o777).toBe(0o700);
    const other = new SandboxDriver({ dataDir: path.join(parent, "data"), labs: loadLabs("labs"), containerd: "embedded" });
    try {
      await other.prepare([LAB]);
      const environment = (await other.createEnvironment(LAB)) as SandboxEnvironment;
      const pull = await environment.runScript("ctr image pull docker.io/library/busybox:latest >/dev/null && ctr images ls -q", { timeoutMs: 20_000 });
      expect(pull.output).toBe("docker.io/library/busybox:latest\n");
      await environment.dispose();
      expect(sandboxLeftovers(environment)).toEqual([]);
      // The folder above the data dir was left as it was.
      expect(statSync(parent).mode & 0o777).toBe(0o700);
    } finally {
      await other.close();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("uid ranges (slots), claimed machine-wide", () => {
  it("hands out the lowest free range, never one a process uses, and takes back orphaned claims only", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nwl-slots-"));
    // Far from the driver's ranges: this test must not meet a live sandbox.
    const slots = new SlotRegistry({ dir, uidBase: 3_000_000_000 });
    const owner = (environment: string) => ({ dataDir: "/nowhere", environment, record: path.join(dir, `${environment}.json`), serverPid: process.pid });
    const busy = spawn("setpriv", ["--reuid", String(3_000_000_000 + 2 * RANGE_SIZE), "--regid", "0", "--clear-groups", "sleep", "30"], { stdio: "ignore" });
    try {
      await until(() => processesInRange(3_000_000_000 + 2 * RANGE_SIZE).length === 1, 5000, "a process in slot 2's range");
      const claims = [slots.claim(owner("a")), slots.claim(owner("b")), slots.claim(owner("c"))];
      // Slot 2's range is in use (a process runs with its uid): skipped.
      expect(claims.map((claim) => claim.slot)).toEqual([0, 1, 3]);
      expect(claims[1]!.base).toBe(3_000_000_000 + RANGE_SIZE);
      slots.release(0);
      expect(slots.claim(owner("d")).slot).toBe(0);
      // Slot 1's record never existed (a wiped data dir): taken back once old enough; slot 3's record exists.
      writeFileSync(owner("c").record, "{}");
      expect(slots.claim(owner("e")).slot).toBe(4);
      const old = new Date(Date.now() - 120_000);
      for (const slot of [1, 3]) utimesSync(path.join(dir, String(slot)), old, old);
      expect(slots.claim(owner("f")).slot).toBe(1);
      expect(JSON.parse(readFileSync(path.join(dir, "1"), "utf8")).environment).toBe("f");
      expect(slots.claim(owner("g")).slot).toBe(5);
    } finally {
      busy.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("cgroup v2 (unified, as on NixOS): the layout's logic on a fake tree", () => {
  // This machine's cgroup2 has no controllers: the kernel side of v2 is not testable here.
  it("delegates a subtree of the server's own cgroup: memory.max, pids.max, cpu.max; the directory and delegation files chowned", () => {
    const root = mkdtempSync(path.join(tmpdir(), "nwl-cgroup2-"));
    try {
      const own = path.join(root, "system.slice", "nwl.service");
      mkdirSync(own, { recursive: true });
      writeFileSync(path.join(own, "cgroup.controllers"), "cpuset cpu io memory pids\n");
      writeFileSync(path.join(own, "cgroup.subtree_control"), "");
      writeFileSync(path.join(own, "cgroup.procs"), "4242\n");
      const layout = cgroupLayout("nix-way-labs", {
        mountinfo: `30 23 0:26 / ${root} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n`,
        selfCgroup: "0::/system.slice/nwl.service\n",
      });
      expect(layout).toEqual({ version: 2, hierarchies: [{ options: "", mountPoint: root, version: 2 }], parents: [path.join(own, "nix-way-labs")] });
      // On the fake tree, writes only make files: the subtree_control files must exist beforehand.
      mkdirSync(path.join(own, "nix-way-labs"));
      writeFileSync(path.join(own, "nix-way-labs", "cgroup.subtree_control"), "");
      const cgroups = createEnvironmentCgroups(layout, "sandbox-7", { memoryBytes: 512 * 2 ** 20, pids: 100, cpus: 0.5 }, 1_458_752);
      const leaf = path.join(own, "nix-way-labs", "sandbox-7");
      expect(cgroups).toEqual({ version: 2, dirs: [leaf], mounts: [{ options: "", name: "", version: 2 }] });
      expect(readFileSync(path.join(own, "server", "cgroup.procs"), "utf8")).toBe("4242");
      expect(readFileSync(path.join(own, "cgroup.subtree_control"), "utf8")).toBe("+memory +pids +cpu");
      expect(readLimit(leaf, "memory.max")).toBe(String(512 * 2 ** 20));
      expect(readLimit(leaf, "pids.max")).toBe("100");
      expect(readLimit(leaf, "cpu.max")).toBe("50000 100000");
      expect(statSync(leaf).uid).toBe(1_458_752);
      expect(statSync(path.join(leaf, "memory.max")).uid).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses a v2 cgroup without the controllers delegated, saying how to get them", () => {
    const root = mkdtempSync(path.join(tmpdir(), "nwl-cgroup2-"));
    try {
      writeFileSync(path.join(root, "cgroup.controllers"), "cpuset io\n");
      expect(() => cgroupLayout("nix-way-labs", { mountinfo: `30 23 0:26 / ${root} rw - cgroup2 cgroup2 rw\n`, selfCgroup: "0::/\n" })).toThrow(
        "cgroup v2 controllers not delegated to the lab server's cgroup /: memory, pids, cpu (run it in a unit with Delegate=yes)",
      );
      expect(sandboxAvailability({ host: { mountinfo: `30 23 0:26 / ${root} rw - cgroup2 cgroup2 rw\n`, selfCgroup: "0::/\n" } })).toMatchObject({
        ok: false,
        reasons: [expect.stringContaining("cgroups: cgroup v2 controllers not delegated")],
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
