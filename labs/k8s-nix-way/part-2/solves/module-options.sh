cat > ~/k8s/default.nix <<'NIX'
{ config, lib, ... }:
{
  imports = [ ./etcd.nix ./containerd.nix ];
  options.services.k8s = {
    controller = lib.options.mkOption {
      description = ''
        Whether this is a controller
      '';
      default = false;
      type = lib.types.bool;
    };
    secretsPath = lib.options.mkOption {
      description = "Path to secrets";
      default = "/var/lib/kubernetes/secrets";
      type = lib.types.path;
    };
  };
}
NIX
cat > ~/k8s/etcd.nix <<'NIX'
{ config, ... }:
let
  cfg = config.services.k8s;
in
{
  config.services.etcd = {
    enable = cfg.controller;
    trustedCaFile = "${cfg.secretsPath}/etcd.pem";
    certFile = "${cfg.secretsPath}/etcd-tls.pem";
    keyFile = "${cfg.secretsPath}/etcd-tls-key.pem";
    clientCertAuth = true;
    listenClientUrls = [ "https://[::1]:2379" ];
  };
}
NIX
cat > ~/machine.nix <<'NIX'
{ ... }:
{
  imports = [ ./k8s ];
  services.k8s.controller = true;
  # Here: your home. On a NixOS machine, leave the default.
  services.k8s.secretsPath = builtins.getEnv "HOME" + "/secrets";
  services.etcd.dataDir = builtins.getEnv "HOME" + "/etcd-tls-data";
}
NIX
nix-instantiate --eval --strict -A config.services.etcd ~/nixos-lite/evaluate.nix
