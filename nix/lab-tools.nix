# The programs the lab server and the labs run, from nixpkgs: on the unit's
# PATH (module.nix) and in the lab VM's system profile (lab-vm.nix).
pkgs:
let
  # nixpkgs' registry binary is `registry` (docker-distribution); the server
  # runs `docker-registry`, Debian's name. Until the server takes the
  # registry binary from its config, this puts the Debian name on PATH.
  docker-registry = pkgs.runCommand "docker-registry-as-debian-names-it" { } ''
    mkdir -p $out/bin
    ln -s ${pkgs.docker-distribution}/bin/registry $out/bin/docker-registry
  '';
in
with pkgs;
{
  # What the server itself runs for every environment (sandbox and host-namespaces).
  server = [
    bashInteractive coreutils util-linux iproute2 nettools procps gnutar gzip
    containerd runc cni-plugins docker-distribution docker-registry
  ];
  # What the labs' steps and checks run (Parts 1–4): etcd (etcdctl comes
  # with it), openssl and cfssl for the PKI, git, nix for the Nix files,
  # kubelet and kube-apiserver from `kubernetes` for Parts 3 and 4.
  labs = [ etcd openssl cfssl git nix kubernetes ];
  # A statically linked busybox: the lab images are made from it.
  busybox = pkgsStatic.busybox;
}
