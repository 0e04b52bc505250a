# `nix flake check` / `nix build .#checks.x86_64-linux.vm-test`: boots the lab
# VM's configuration, waits for the service and its port, walks Part 1
# through the real protocol and check API with the benchmarks' client
# (scripts/walk-lab.ts), then checks that a foreign origin and a missing
# token are refused.
{ lib, testers, runCommand, nixosModule, nix-way-labs }:
let
  root = ../.;
  # The client and what it imports (server/labs.ts imports labs/schema.ts),
  # beside the package's node_modules; nix/nix-files.test.ts checks the list.
  walkerSource = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [ (root + "/scripts/walk-lab.ts") (root + "/server") (root + "/src/client") (root + "/labs/schema.ts") (root + "/package.json") ];
  };
  walker = runCommand "nix-way-labs-walk-lab" { } ''
    cp -r ${walkerSource} $out
    chmod u+w $out
    ln -s ${nix-way-labs}/lib/nix-way-labs/node_modules $out/node_modules
  '';
  node = lib.getExe nix-way-labs.nodejs;
in
testers.runNixOSTest {
  name = "nix-way-labs";
  nodes.machine = { pkgs, ... }: {
    imports = [ nixosModule ./lab-vm.nix ];
    environment.systemPackages = [ pkgs.curl ];
    virtualisation.memorySize = 4096;
    virtualisation.cores = 2;
    virtualisation.diskSize = 8192;
  };
  testScript = ''
    machine.wait_for_unit("nix-way-labs.service")
    machine.wait_for_open_port(4321)
    machine.wait_until_succeeds("test -s /var/lib/nix-way-labs/operator-token")
    token = machine.succeed("cat /var/lib/nix-way-labs/operator-token").strip()

    with subtest("Part 1, every checkpoint, through the protocol and the check API"):
        machine.succeed(
            f"cd ${walker} && ${node} scripts/walk-lab.ts --server http://127.0.0.1:4321 "
            f"--token {token} --lab k8s-nix-way-part-1 --labs-dir ${nix-way-labs}/lib/nix-way-labs/labs >&2"
        )

    upgrade = (
        "curl -s -o /dev/null -w '%{http_code}' "
        "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "
    )
    with subtest("a page from another origin gets no WebSocket"):
        code = machine.succeed(upgrade + "-H 'Origin: https://evil.example' http://127.0.0.1:4321/ws")
        assert code == "403", f"foreign origin: HTTP {code}"

    with subtest("the API without a token is refused"):
        code = machine.succeed("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4321/api/labs")
        assert code == "401", f"no token: HTTP {code}"
        code = machine.succeed(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Authorization: Bearer {token}' http://127.0.0.1:4321/api/labs")
        assert code == "200", f"with the token: HTTP {code}"
  '';
}
