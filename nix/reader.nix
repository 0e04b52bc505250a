# `nix run`: the lab server for one reader on this machine, with the site
# and the labs of the package, the lab tools on PATH and its state in
# $XDG_STATE_HOME/nix-way-labs. The shell, the CNI plugins' folder, the
# registry and busybox are given as flags (nixpkgs' paths); flags after `--`
# pass through (they come last, so they win; a --config file of the reader's
# does not override these four, since flags win over the config file).
{ lib, writeShellApplication, bashInteractive, cni-plugins, nix-way-labs, pkgs }:
let
  tools = import ./lab-tools.nix pkgs;
  app = "${nix-way-labs}/lib/nix-way-labs";
in
writeShellApplication {
  name = "nix-way-labs-reader";
  runtimeInputs = tools.server ++ tools.labs ++ [ tools.busybox ];
  text = ''
    state=''${XDG_STATE_HOME:-$HOME/.local/state}/nix-way-labs
    mkdir -p "$state"
    exec ${lib.getExe nix-way-labs} --site ${app}/dist --labs ${app}/labs \
      --shell ${bashInteractive}/bin/bash \
      --cni-plugin-dir ${cni-plugins}/bin \
      --registry ${lib.getExe' tools.distribution "registry"} \
      --busybox ${tools.busybox}/bin/busybox \
      --data-dir "$state" --token-file "$state/operator-token" "$@"
  '';
}
