# The programs the lab server and the labs run, from nixpkgs: on the unit's
# PATH (module.nix) and in the lab VM's system profile (lab-vm.nix).
pkgs:
let
  # The registry: `distribution` in nixpkgs since late 2024 (before:
  # `docker-distribution`, now a throwing alias); its binary is `registry`.
  distribution = pkgs.distribution or pkgs.docker-distribution;
  # `hostname` alone: net-tools would bring ifconfig and route as well.
  hostname = pkgs.hostname-debian or pkgs.nettools;
in
with pkgs;
{
  # The registry's package (the module names its `registry` binary in the server's settings).
  inherit distribution;
  # What the server itself runs for every environment (sandbox and host-namespaces).
  server = [
    bashInteractive coreutils util-linux iproute2 hostname procps gnutar gzip
    containerd runc cni-plugins distribution
  ];
  # What the labs' steps and checks run (Parts 1–4): etcd (etcdctl comes
  # with it), openssl and cfssl for the PKI, git, nix for the Nix files,
  # kubelet and kube-apiserver from `kubernetes` for Parts 3 and 4; jq
  # (Parts 3 and 4), su (Part 1) from shadow's `su` output (nixpkgs moves
  # it there; `shadow` itself has no bin/su), getent (Part 4). Every
  # command a lab's `requires.commands` names is mapped to one of these (or
  # to `server`) in nix/lab-tools.test.ts.
  labs = [ etcd openssl cfssl git nix kubernetes jq shadow.su getent ];
  # A statically linked busybox: the lab images are made from it.
  busybox = pkgsStatic.busybox;
}
