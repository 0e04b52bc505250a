# Development only (CI has no nixpkgs): evaluates module.nix with nixpkgs'
# `lib` alone, e.g. the nix-community/nixpkgs.lib repository:
#   nix-instantiate --eval --strict --json nix/dev/eval-module.nix --arg lib 'import /path/to/nixpkgs.lib/lib'
# This is not NixOS evaluating the module: the NixOS options the module sets
# (systemd.services, networking.firewall, virtualisation.containerd,
# environment.systemPackages, assertions) are declared here as loose stubs,
# and `pkgs` is a stub whose packages are fake store paths; `formats.json`
# copies nixpkgs' JSON value type and renders with builtins.toJSON.
# What it does check: the module's own options, types, defaults, the
# rendered settings file, ExecStart, the unit's path, assertions.
{ lib, settings ? { }, extraConfig ? { }, labVm ? false }:
let
  fake = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };
  # Files the module renders: their text, so the test can read them back.
  rendered = name: text: (fake name) // { inherit text; };
  pkgs = { inherit lib; } // lib.genAttrs [
    "bashInteractive" "coreutils" "util-linux" "iproute2" "hostname-debian" "procps" "gnutar" "gzip"
    "containerd" "runc" "cni-plugins" "distribution" "etcd" "openssl" "cfssl" "git" "nix" "kubernetes"
    "jq" "getent"
  ] fake // {
    shadow = fake "shadow" // { su = fake "shadow-su"; };
    callPackage = _: _: fake "nix-way-labs";
    pkgsStatic.busybox = fake "busybox-static";
    runCommand = name: _: _: fake name;
    writeShellScriptBin = name: text: rendered name text;
    formats.json = { }: {
      type = let valueType = with lib.types; nullOr (oneOf [ bool int float str path (attrsOf valueType) (listOf valueType) ]) // { description = "JSON value"; }; in valueType;
      generate = name: value: rendered name (builtins.toJSON value);
    };
  };
  loose = lib.mkOption { type = lib.types.anything; default = { }; };
  stubs = {
    options = {
      assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
      environment.systemPackages = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
      networking.firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
      virtualisation.containerd.enable = lib.mkOption { type = lib.types.bool; default = false; };
      systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.unspecified; default = { }; };
      systemd.tmpfiles.rules = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      # Set by lab-vm.nix; unchecked here.
      system.stateVersion = loose;
      networking.hostName = loose;
      boot.kernelModules = loose;
      services.getty = loose;
      environment.interactiveShellInit = loose;
      virtualisation.vmVariant = loose;
    };
  };
  evaluated = lib.evalModules {
    modules = [
      ../module.nix
      stubs
      { _module.args.pkgs = pkgs; }
      { services.nix-way-labs = { enable = true; inherit settings; }; }
      extraConfig
    ] ++ lib.optional labVm ../lab-vm.nix;
  };
  cfg = evaluated.config;
  unit = cfg.systemd.services.nix-way-labs;
  configFile = lib.last (lib.splitString " " unit.serviceConfig.ExecStart);
in
{
  configJson = builtins.fromJSON (lib.head (lib.filter (x: x != null) (map (p: if (p.name or "") == "nix-way-labs.json" then p.text else null) unit.restartTriggers)));
  execStart = unit.serviceConfig.ExecStart;
  inherit configFile;
  path = map (p: p.name) unit.path;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  firewall = cfg.networking.firewall.allowedTCPPorts;
  tmpfiles = cfg.systemd.tmpfiles.rules;
  containerd = cfg.virtualisation.containerd.enable;
  serviceConfig = removeAttrs unit.serviceConfig [ "ExecStart" ];
  invite = (lib.head (lib.filter (p: p.name == "nix-way-labs-invite") cfg.environment.systemPackages)).text;
  systemPackages = map (p: p.name) cfg.environment.systemPackages;
  vm = cfg.virtualisation.vmVariant;
  shellInit = cfg.environment.interactiveShellInit;
}
