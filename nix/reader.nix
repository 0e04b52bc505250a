# `nix run`: the lab server for one reader on this machine, with the site
# and the labs of the package, the lab tools on PATH and its state in
# $XDG_STATE_HOME/nix-way-labs. Flags after `--` pass through (they win).
{ lib, writeShellApplication, writeText, bashInteractive, nix-way-labs, pkgs }:
let
  tools = import ./lab-tools.nix pkgs;
  app = "${nix-way-labs}/lib/nix-way-labs";
  # The shell is not a flag yet; a later --config of the reader's replaces this file.
  config = writeText "nix-way-labs-reader.json" (builtins.toJSON { shell = "${bashInteractive}/bin/bash"; });
in
writeShellApplication {
  name = "nix-way-labs-reader";
  runtimeInputs = tools.server ++ tools.labs;
  text = ''
    state=''${XDG_STATE_HOME:-$HOME/.local/state}/nix-way-labs
    mkdir -p "$state"
    exec ${lib.getExe nix-way-labs} --config ${config} --site ${app}/dist --labs ${app}/labs \
      --data-dir "$state" --token-file "$state/operator-token" "$@"
  '';
}
