/** The importer's "does this block change state?" heuristic, and the command splitting the Run-block test relies on. */
import { describe, expect, test } from "vitest";
import { changesState, simpleCommands, stateChangingCommands } from "../../scripts/shell-commands.ts";

describe("simpleCommands", () => {
  test("splits at newlines, ;, && and || but not inside quotes or $( ), drops comments, joins continuations", () => {
    expect(simpleCommands("mkdir -p ~/k8s && cd ~ # home\necho 'a; b' | tee x; ls $(echo a && echo b)\netcd --name x \\\n   --data-dir d > log 2>&1 &\n")).toEqual([
      "mkdir -p ~/k8s",
      "cd ~",
      "echo 'a; b' | tee x",
      "ls $(echo a && echo b)",
      "etcd --name x --data-dir d > log 2>&1",
    ]);
  });

  test("keeps a here-document's body with its command", () => {
    expect(simpleCommands("cat > f.nix <<'NIX'\n{ a = 1; }\n  # not a comment\nNIX\necho done")).toEqual(["cat > f.nix <<'NIX'\n{ a = 1; }\n  # not a comment\nNIX", "echo done"]);
  });
});

describe("changesState", () => {
  test.each([
    "ls -la /var/lib",
    "cat /etc/os-release | grep ID",
    "echo hello",
    "systemctl status etcd",
    "journalctl -xeu containerd",
    "git status --short",
    "kubectl get pods -A",
    "ctr images ls",
    "ctr task ls",
    "etcdctl endpoint health",
    "nix eval .#nixosConfigurations.node.config.services.etcd.enable",
    "nix-instantiate --eval -E '1 + 1'",
    "openssl x509 -in etcd.pem -noout -text",
    "curl -s http://localhost:2379/health",
    "ls /nope 2>/dev/null",
    "ctr task ls 2>&1 | grep test",
    "echo to-stderr >&2",
    "watch ctr task ls",
    "cd ~",
    "X=1",
    "sudo systemctl status kubelet",
    "ctr -n k8s.io images ls",
    "kubectl --namespace kube-system get pods",
    "kubectl config view",
    "cat x|grep y",
    "etcdctl get /k 2>&1",
    "hostnamectl",
    "yq .a file.yaml",
    "mount",
  ])("only reads: %s", (command) => expect(changesState(command)).toBe(false));

  test.each([
    "mkdir -p ~/etcd-data",
    "echo '{ }' > k8s/lib.nix",
    "echo foo | tee -a notes",
    "sed -i 's/a/b/' file",
    "find . -name '*.tmp' -delete",
    "systemctl restart etcd",
    "sudo nixos-rebuild switch",
    "git add k8s",
    "kubectl apply -f pod.yaml",
    "ctr image pull docker.io/library/busybox:latest",
    "ctr run --rm docker.io/library/busybox:latest t echo hi",
    "etcdctl put /k v",
    "openssl req -x509 -new -key ca-key.pem -out ca.pem",
    "curl -o file https://example.com",
    "ip link set lo up",
    "some-unknown-tool --flag",
    "cat x|tee y",
    "echo hi>file",
    "echo hi>>file",
    "ls;rm x",
    "ctr -n k8s.io images rm busybox",
    "kubectl --namespace kube-system delete pod x",
    "kubectl config set-context --current --namespace x",
    "kubectl config set-credentials u",
    "kubectl config use-context c",
    "hostnamectl set-hostname node",
    "yq -i '.a = 1' file.yaml",
    "mount -t tmpfs tmpfs /mnt",
    "mount -a",
    "curl -X POST http://localhost/x",
    "curl -XPOST http://localhost/x",
    "curl -d a=1 http://localhost/x",
    "curl --data-binary @f http://localhost/x",
    "nix eval --write-to out .#x",
    "echo $(rm x)",
    "echo `rm x`",
    "ls \"$(mktemp -d)\"",
    "echo hi >&out.txt",
    "ls >& out.txt",
    "cat <(rm x)",
    "watch -n1 rm x",
    "tee >(rm x) < f",
  ])("changes state: %s", (command) => expect(changesState(command)).toBe(true));

  test("a block changes state when any of its commands does", () => {
    expect(stateChangingCommands("ls\nmkdir x\ncat y")).toEqual(["mkdir x"]);
    expect(stateChangingCommands("until etcdctl endpoint health; do sleep 0.5; done")).toEqual([]);
  });
});
