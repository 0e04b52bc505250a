/**
 * Escape attempts from a reader's shell in a sandbox environment (A), while
 * another reader's environment (B) exists. Each attempt has its own
 * assertion and fails the test if the escape works. They run as a reader
 * would run them: through runScript (the check path) and a real pty (the
 * terminal). Destructive attempts (`kill -9 -1`, `reboot -f`) are guarded by
 * insideOnly(), which refuses to run outside a sandbox user namespace.
 *
 * Afterwards the lab server (this process), B and a host service are
 * unaffected.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLabs } from "../../labs.ts";
import { readLimit } from "../../environment/cgroups.ts";
import { processStart, SandboxDriver, sameProcess, sandboxLeftovers, type SandboxEnvironment } from "./sandbox.ts";
import { insideOnly, PtyShell, until } from "./test-helpers.ts";

const LAB = "k8s-nix-way-part-1";
const DATA_DIR = path.resolve(".lab-data/vitest-sandbox");
const MEMORY = 384 * 2 ** 20;
const PIDS = 256;
const driver = new SandboxDriver({ dataDir: DATA_DIR, labs: loadLabs("labs"), containerd: "embedded", limits: { memoryBytes: MEMORY, pids: PIDS } });

let a: SandboxEnvironment;
let b: SandboxEnvironment;
let listener: Server;
let port = 0;
let connections = 0;
const serverStart = processStart(process.pid)!;

async function inA(script: string, timeoutMs = 20_000) {
  return a.runScript(script, { timeoutMs });
}

async function inB(script: string, timeoutMs = 20_000) {
  return b.runScript(script, { timeoutMs });
}

/** Waits until A's services are up again (health) and its containerd answers (a restarted one takes a moment). */
async function aRecovered(): Promise<void> {
  await until(() => driver.health().status === "ok", 10_000, "A's services to be up");
  await until(async () => (await inA("ctr --timeout 1s version >/dev/null && echo up")).output === "up\n", 10_000, "A's containerd to answer");
}

/** B's containerd, as the host sees it. */
function containerdOf(environment: SandboxEnvironment): number {
  const children = readFileSync(`/proc/${environment.target.pid}/task/${environment.target.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
  const pid = children.find((child) => readFileSync(`/proc/${child}/comm`, "utf8").trim() === "containerd");
  if (!pid) throw new Error(`no containerd in environment ${environment.id}`);
  return pid;
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

beforeAll(async () => {
  listener = createServer((socket) => {
    connections++;
    socket.end("host service\n");
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as { port: number }).port;
  await driver.prepare([LAB]);
  [a, b] = (await Promise.all([driver.createEnvironment(LAB), driver.createEnvironment(LAB)])) as SandboxEnvironment[];
  const setup = await inB(`ctr image pull docker.io/library/busybox:latest >/dev/null
ctr run -d docker.io/library/busybox:latest secret-b sleep 1000
echo "B's secret" > /root/secret-of-${b!.id}
ctr task ls`);
  expect(setup.output).toMatch(/secret-b\s+\d+\s+RUNNING/);
});

afterAll(async () => {
  await driver.close();
  listener?.close();
});

describe("escape attempts from a reader's shell", () => {
  it("cannot nsenter into the lab server's namespaces", async () => {
    const result = await inA(`nsenter -t ${process.pid} -n -m true; echo "rc=$?"; nsenter --net=/proc/${process.pid}/ns/net true; echo "rc=$?"`);
    expect(result.output).toContain(`nsenter: cannot open /proc/${process.pid}/ns/net: No such file or directory\nrc=1\n`);
    expect(result.output).not.toContain("rc=0");
  });

  it("cannot kill the lab server, nor another reader's processes", async () => {
    const bContainerd = containerdOf(b);
    const bContainerdStart = processStart(bContainerd)!;
    const result = await inA(`kill -9 ${process.pid}; echo "rc=$?"; kill -9 ${b.target.pid}; echo "rc=$?"; kill -9 ${bContainerd}; echo "rc=$?"`);
    for (const pid of [process.pid, b.target.pid, bContainerd]) expect(result.output).toContain(`kill: (${pid}) - No such process\n`);
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=1", "rc=1", "rc=1"]);
    expect(sameProcess(process.pid, serverStart)).toBe(true);
    expect(sameProcess(b.target.pid, b.target.start)).toBe(true);
    expect(sameProcess(bContainerd, bContainerdStart)).toBe(true);
  });

  it("cannot read the lab server's environment, nor any host process's", async () => {
    const result = await inA(`cat /proc/${process.pid}/environ; echo "rc=$?"; ls /proc | grep -c '^[0-9]'; grep -l VITEST /proc/[0-9]*/environ 2>/dev/null | wc -l`);
    const [error, rc, processes, found] = result.output.trim().split("\n");
    expect(error).toBe(`cat: /proc/${process.pid}/environ: No such file or directory`);
    expect(rc).toBe("rc=1");
    // Only its own few processes exist for it.
    expect(Number(processes)).toBeLessThan(12);
    expect(readFileSync("/proc/self/environ", "utf8")).toContain("VITEST");
    expect(found).toBe("0");
  });

  it("cannot write the host's /etc/passwd", async () => {
    const before = sha("/etc/passwd");
    const result = await inA(`echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd; echo "rc=$?"; grep -c '^evil:' /etc/passwd`);
    expect(result.output).toMatch(/^\/bin\/bash: line \d+: \/etc\/passwd: Permission denied\nrc=1\n0\n$/);
    expect(sha("/etc/passwd")).toBe(before);
  });

  it("cannot write /usr/bin, even after a remount", async () => {
    const result = await inA('touch /usr/bin/nwl-escape; echo "rc=$?"; mount -o remount,rw /usr; echo "rc=$?"; mount -o remount,bind,rw /usr; echo "rc=$?"; touch /usr/bin/nwl-escape; echo "rc=$?"');
    expect(result.output).toMatch(/^touch: cannot touch '\/usr\/bin\/nwl-escape': Read-only file system\nrc=1\n/);
    // The mount's own flag may turn rw; the overlay without an upper layer stays read-only.
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=1", "rc=32", "rc=0", "rc=1"]);
    expect(result.output).toMatch(/touch: cannot touch '\/usr\/bin\/nwl-escape': Read-only file system\nrc=1\n$/);
    expect(existsSync("/usr/bin/nwl-escape")).toBe(false);
  });

  it("cannot reach the project's folder, the data dir or the registry storage's host files", async () => {
    const project = process.cwd();
    const storage = path.join(DATA_DIR, "registry", "storage");
    const result = await inA(`touch ${project}/nwl-escape; echo "rc=$?"; ls ${project} ${DATA_DIR} 2>&1 | wc -l
touch /var/lib/docker-registry/nwl-escape; echo "rc=$?"
mount -o remount,bind,rw /var/lib/docker-registry; touch /var/lib/docker-registry/nwl-escape; echo "rc=$?"`);
    expect(result.output).toContain(`touch: cannot touch '${project}/nwl-escape': No such file or directory\nrc=1\n2\n`);
    expect(result.output).toContain("touch: cannot touch '/var/lib/docker-registry/nwl-escape': Read-only file system\nrc=1\n");
    // Remounted writable (the reader's own bind mount), the files are still the host's: nobody's, not writable.
    expect(result.output).toMatch(/touch: cannot touch '\/var\/lib\/docker-registry\/nwl-escape': (Permission denied|Read-only file system)\nrc=1\n$/);
    expect(existsSync(path.join(project, "nwl-escape"))).toBe(false);
    expect(existsSync(path.join(storage, "nwl-escape"))).toBe(false);
  });

  it("cannot mount the host's block device", async () => {
    const root = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((line) => line.split(" ")[4] === "/")!;
    const [major, minor] = root.split(" ")[2]!.split(":");
    const source = root.split(" - ")[1]!.split(" ")[1]!;
    const result = await inA(`ls ${source}; echo "rc=$?"; mknod /tmp/disk b ${major} ${minor}; echo "rc=$?"; mkdir -p /tmp/mnt
mount ${source} /tmp/mnt; echo "rc=$?"; mount -t ext4 /tmp/disk /tmp/mnt; echo "rc=$?"; ls /tmp/mnt | wc -l`);
    expect(result.output).toContain(`ls: cannot access '${source}': No such file or directory\nrc=2\n`);
    expect(result.output).toContain("mknod: /tmp/disk: Operation not permitted\nrc=1\n");
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=2", "rc=1", "rc=32", "rc=32"]);
    expect(result.output.trim().split("\n").at(-1)).toBe("0");
  });

  it("cannot raise its own memory or pids limit", async () => {
    const memory = a.record.cgroups.dirs.find((dir) => dir.includes("/memory/"))!;
    const pids = a.record.cgroups.dirs.find((dir) => dir.includes("/pids/"))!;
    const result = await inA(`echo 8589934592 > /sys/fs/cgroup/memory/memory.limit_in_bytes; echo "rc=$?"; echo max > /sys/fs/cgroup/pids/pids.max; echo "rc=$?"
chmod 666 /sys/fs/cgroup/memory/memory.limit_in_bytes; echo "rc=$?"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes`);
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=1", "rc=1", "rc=1"]);
    expect(result.output).toContain("memory.limit_in_bytes: Permission denied");
    expect(result.output.trim().split("\n").at(-1)).toBe(String(MEMORY));
    expect(readLimit(memory, "memory.limit_in_bytes")).toBe(String(MEMORY));
    expect(readLimit(pids, "pids.max")).toBe(String(PIDS));
  });

  it("cannot reach a service on the host's 127.0.0.1, nor the host on any of its addresses", async () => {
    const addresses = Object.values(networkInterfaces()).flat().filter((address) => address && address.family === "IPv4").map((address) => address!.address);
    const attempts = addresses.map((address) => `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/${port} && cat <&3'; echo "rc=$?"`).join("\n");
    const result = await inA(attempts);
    expect(addresses).toContain("127.0.0.1");
    expect(result.output.match(/rc=\d+/g)).toEqual(addresses.map(() => "rc=1"));
    expect(result.output).not.toContain("host service");
    expect(connections).toBe(0);
  });

  it("cannot find another reader's files, containers or containerd socket", async () => {
    // (/usr is the host's, read-only: not searched.)
    const result = await inA(`find / \\( -path /proc -o -path /sys -o -path /usr \\) -prune -o -name '*${b.id}*' -print 2>/dev/null | wc -l
grep -rl "B's secret" /root /tmp /var /run /etc 2>/dev/null | wc -l
ctr containers ls -q | wc -l; ctr namespaces ls -q | wc -l
find / \\( -path /proc -o -path /sys -o -path /usr \\) -prune -o -type s -print 2>/dev/null | sort`);
    const [files, secrets, containers, namespaces, ...sockets] = result.output.trim().split("\n");
    expect(files).toBe("0");
    expect(secrets).toBe("0");
    expect(containers).toBe("0");
    expect(namespaces).toBe("0");
    // The only containerd socket it can see is its own (its PID namespace, its mount namespace).
    expect(sockets.filter((socket) => socket.includes("containerd.sock"))).toEqual(["/run/containerd/containerd.sock", "/run/containerd/containerd.sock.ttrpc"]);
    expect((await inB(`cat /root/secret-of-${b.id}`)).output).toBe("B's secret\n");
  });

  it("never has the lab CA's private key inside", async () => {
    const key = readFileSync(path.join(DATA_DIR, "pki", "lab-ca-key.pem"), "utf8").split("\n")[1]!;
    expect(key.length).toBeGreaterThan(20);
    const result = await inA(`grep -rlF '${key}' /etc /root /var /run /tmp /dev/shm 2>/dev/null | wc -l; ls /etc/docker/registry`);
    expect(result.output).toBe("0\nconfig.yml\nregistry-key.pem\nregistry.pem\n");
  });

  it("holds no file descriptor of the host, in any of its processes", async () => {
    const result = await inA("ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -- '->' | sed 's/.*-> //' | sort -u");
    const targets = result.output.trim().split("\n");
    const outside = targets.filter((target) => /^\//.test(target) && !/^\/(dev|var|run|proc|root|tmp|etc|usr|sys)(\/|$)/.test(target));
    expect(outside).toEqual([]);
    expect(targets.filter((target) => target.includes(process.cwd()) || target.includes(DATA_DIR))).toEqual([]);
  });

  it("changes no kernel-wide setting: clock, kernel log, the host's hostname and pid_max", async () => {
    const hostPidMax = readFileSync("/proc/sys/kernel/pid_max", "utf8").trim();
    const result = await inA(`date -s '2001-01-01'; echo "rc=$?"; dmesg >/dev/null; echo "rc=$?"; sysctl -w kernel.pid_max=4000000 >/dev/null; echo "rc=$?"; hostname nwl-escape; echo "rc=$?"; hostname`);
    // Since Linux 6.14 pid_max belongs to the PID namespace: its own changes, the host's does not.
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=1", "rc=1", expect.stringMatching(/^rc=(0|255)$/), "rc=0"]);
    // Its hostname is its UTS namespace's; the host's and B's are unchanged.
    expect(result.output.trim().split("\n").at(-1)).toBe("nwl-escape");
    expect(hostname()).not.toBe("nwl-escape");
    expect((await inB("hostname")).output.trim()).toBe(`lab-${b.id.slice(0, 8)}`);
    expect(Math.abs(Date.now() - new Date(2001, 0, 1).getTime())).toBeGreaterThan(1e9);
    expect(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim()).toBe(hostPidMax);
    expect((await inB("cat /proc/sys/kernel/pid_max")).output.trim()).not.toBe("4000000");
  });

  it("gets none of this from a real terminal either", async () => {
    const pty = new PtyShell(a);
    try {
      expect(await pty.run("tty")).toContain("/dev/pts/0\n");
      expect(await pty.run(`nsenter -t ${process.pid} -a true`)).toMatch(/nsenter: .*\/proc\/\d+\/ns\/\w+.*: No such file or directory\n__END_\d+__ rc=1/);
      expect(await pty.run(`kill -9 ${process.pid}`)).toContain("No such process");
      expect(await pty.run("cat /proc/1/cmdline | tr '\\0' ' '")).toContain("bash --norc /dev/fd/3");
      expect(await pty.run("ls /work /home 2>&1 | head -1")).toMatch(/No such file or directory|^\s*$/m);
    } finally {
      pty.kill();
    }
    expect(sameProcess(process.pid, serverStart)).toBe(true);
  });

  it("is OOM-killed at its memory limit, even from a cgroup of its own with a higher limit; the rest goes on", async () => {
    const result = await inA(`mkdir -p /sys/fs/cgroup/memory/hog
echo 8589934592 > /sys/fs/cgroup/memory/hog/memory.limit_in_bytes
( echo $BASHPID > /sys/fs/cgroup/memory/hog/cgroup.procs && exec python3 -c 'b = bytearray(${2 * MEMORY}); print("allocated", len(b))' ); echo "rc=$?"
( x=$(head -c ${2 * MEMORY} /dev/zero | tr '\\0' x); echo "bash held \${#x}" ); echo "rc=$?"`, 60_000);
    expect(result.output).not.toMatch(/^allocated/m);
    expect(result.output).not.toMatch(/^bash held/m);
    expect(result.output.match(/rc=\d+/g)).toEqual(["rc=137", "rc=137"]);
    const memory = a.record.cgroups.dirs.find((dir) => dir.includes("/memory/"))!;
    // The kernel counts the kills in the environment's cgroup (v1: memory.oom_control's oom_kill).
    expect(Number(/oom_kill (\d+)/.exec(readLimit(memory, "memory.oom_control") ?? "")?.[1])).toBeGreaterThanOrEqual(1);
    // Its PID 1 and services survive (or are restarted), and it works again.
    expect(sameProcess(a.target.pid, a.target.start)).toBe(true);
    await aRecovered();
    expect(sameProcess(process.pid, serverStart)).toBe(true);
  });

  it("stops a bounded loop of processes at its pids limit; the host and the rest go on", async () => {
    const result = await inA(`python3 - <<'PY'
import os, time, errno
children = []
try:
    for _ in range(${PIDS + 150}):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("fork failed:", errno.errorcode[error.errno])
print("started", len(children))
for pid in children:
    os.kill(pid, 9)
for pid in children:
    os.waitpid(pid, 0)
PY`, 60_000);
    expect(result.output).toContain("fork failed: EAGAIN");
    const started = Number(/started (\d+)/.exec(result.output)?.[1]);
    expect(started).toBeLessThan(PIDS);
    expect(started).toBeGreaterThan(PIDS / 2);
    expect(sameProcess(a.target.pid, a.target.start)).toBe(true);
    await aRecovered();
    expect((await inB("echo ok")).output).toBe("ok\n");
  });

  it("pkill -f docker-registry kills only its own registry: the other reader still pulls", async () => {
    const bRegistry = readFileSync(`/proc/${b.target.pid}/task/${b.target.pid}/children`, "utf8").trim().split(/\s+/).map(Number)
      .find((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "docker-registry")!;
    const bRegistryStart = processStart(bRegistry)!;
    const kill = await inA("pkill -9 -f docker-registry; echo \"rc=$?\"; sleep 0.2; ps -eo stat=,comm= | awk '$2 == \"docker-registry\" && $1 !~ /^Z/' | wc -l");
    expect(kill.output).toBe("rc=0\n0\n");
    const pull = await inB("ctr image pull docker.io/library/alpine:latest >/dev/null && ctr images ls -q");
    expect(pull.exitCode, pull.output).toBe(0);
    expect(pull.output).toContain("docker.io/library/alpine:latest");
    expect(sameProcess(bRegistry, bRegistryStart)).toBe(true);
    // A's own registry comes back.
    await until(() => driver.health().status === "ok", 5000, "A's registry to be restarted");
  });

  it("kill -9 -1 empties only its own environment (its PID 1 restarts its services)", async () => {
    const bContainerd = containerdOf(b);
    const bContainerdStart = processStart(bContainerd)!;
    const result = await inA(`${insideOnly()}setsid -f sleep 1000 </dev/null >/dev/null 2>&1
kill -9 -1; echo "rc=$?"; sleep 0.3; ps -eo stat=,comm= | awk '$1 !~ /^Z/ { print $2 }' | sort | tr '\\n' ' '`);
    expect(result.output).toMatch(/^rc=0\n/);
    // Left: its PID 1, this script, and what it runs now (zombies aside, until PID 1 reaps them).
    expect(result.output).not.toMatch(/sleep 1000|containerd|docker-registry/);
    expect(result.output.split("\n")[1]).toBe("awk bash bash ps sort tr ");
    await aRecovered();
    expect((await inA("ctr image pull docker.io/library/busybox:latest >/dev/null && echo pulled")).output).toBe("pulled\n");
    expect(sameProcess(bContainerd, bContainerdStart)).toBe(true);
    expect((await inB("ctr task ls")).output).toMatch(/secret-b\s+\d+\s+RUNNING/);
  });

  it("reboot -f ends only its own environment", async () => {
    const result = await inA(`${insideOnly()}setsid -f unshare --mount --net sleep 777 </dev/null >/dev/null 2>&1; reboot -f; echo "rc=$?"`);
    expect(result.output).not.toContain("REFUSED");
    await until(() => !sameProcess(a.target.pid, a.target.start), 5000, "A's PID 1 to end");
    await until(() => driver.health().reasons.length === 1, 5000, "only A to be reported");
    expect(driver.health().reasons).toEqual([`lab environment ${a.id} has ended: its PID 1 is gone`]);
    await a.dispose();
    expect(sandboxLeftovers(a)).toEqual([]);
  });

  it("leaves the lab server, the host service and the other reader as they were", async () => {
    expect(sameProcess(process.pid, serverStart)).toBe(true);
    expect(driver.health()).toEqual({ status: "ok", reasons: [] });
    const check = await inB(`ctr task ls; cat /root/secret-of-${b.id}; ctr images ls -q`);
    expect(check.output).toMatch(/secret-b\s+\d+\s+RUNNING/);
    expect(check.output).toContain("B's secret");
    // The host service answers the host.
    const reply = await new Promise<string>((resolve, reject) => {
      import("node:net").then(({ connect }) => {
        const socket = connect(port, "127.0.0.1");
        let data = "";
        socket.on("data", (chunk) => (data += chunk.toString()));
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
      });
    });
    expect(reply).toBe("host service\n");
    expect(connections).toBe(1);
    // No process of the host runs with A's uids any more.
    const withAsUids = readdirSync("/proc").filter((entry) => {
      try {
        const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]);
        return /^\d+$/.test(entry) && uid >= a.record.base && uid < a.record.base + 65536;
      } catch {
        return false;
      }
    });
    expect(withAsUids).toEqual([]);
    expect(statSync(b.dir).mode & 0o777).toBe(0o700);
  });
});
