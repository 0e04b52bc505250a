# Run once in a new Part 2 environment (before Part 1's end state is reached by its solves).
# Nix here is Debian's nix-bin (2.8) with no nixpkgs: it evaluates, it builds nothing.
mkdir -p ~/.config/nix ~/nixos-lite
cat > ~/.config/nix/nix.conf <<'CONF'
# Evaluating needs no store, and nothing is built here: a store that holds nothing.
store = dummy://
experimental-features = nix-command
CONF

cat > ~/nixos-lite/lib.nix <<'NIX'
# Our stand-in for the few functions of nixpkgs' lib that the modules of this lab use
# (there is no nixpkgs here). Same names, far fewer features.
rec {
  options.mkOption = declaration: declaration // { _type = "option"; };
  mkOption = options.mkOption;
  types = {
    bool = { description = "boolean"; check = builtins.isBool; };
    str = { description = "string"; check = builtins.isString; };
    # Like nixpkgs' types.path: a path, or a string that starts with a slash.
    path = { description = "path"; check = x: builtins.isPath x || (builtins.isString x && builtins.substring 0 1 x == "/"); };
    listOf = t: { description = "list of ${t.description}"; check = x: builtins.isList x && builtins.all t.check x; list = true; };
    nullOr = t: { description = "null or ${t.description}"; check = x: x == null || t.check x; };
    attrsOf = t: { description = "attribute set of ${t.description}"; check = x: builtins.isAttrs x && builtins.all t.check (builtins.attrValues x); };
  };
  concatStringsSep = builtins.concatStringsSep;
  filterAttrs = pred: set: builtins.removeAttrs set (builtins.filter (name: !pred name set.${name}) (builtins.attrNames set));
  optionalAttrs = condition: set: if condition then set else { };
  last = list: builtins.elemAt list (builtins.length list - 1);
  recursiveUpdate = a: b: a // builtins.mapAttrs (name: value:
    if builtins.isAttrs value && builtins.isAttrs (a.${name} or null) && (value._type or null) != "option" then recursiveUpdate a.${name} value else value) b;
}
NIX

cat > ~/nixos-lite/eval-modules.nix <<'NIX'
# Our tiny stand-in for nixpkgs' lib.evalModules, about forty lines, to evaluate this lab's
# modules where there is no nixpkgs. It does what the lab needs, the way NixOS does it:
# follows imports (a folder means its default.nix), calls each module with the final config,
# merges the options they declare, and gives each option the value its definitions set
# (lists concatenated, other values equal or an error), or its default, type-checked.
# It does not do mkIf, mkDefault, priorities or submodules.
{ modules }:
let
  lib = import ./lib.nix;
  args = { inherit config lib; pkgs = { }; };
  collect = module:
    let
      value = if builtins.isFunction module then module args
        else if builtins.isAttrs module then module
        else collect' module;
    in [ value ] ++ builtins.concatMap collect (value.imports or [ ]);
  collect' = file: let imported = import file; in if builtins.isFunction imported then imported args else imported;
  results = builtins.concatMap collect modules;
  isOption = x: builtins.isAttrs x && (x._type or null) == "option";
  declared = builtins.foldl' lib.recursiveUpdate { } (map (result: result.options or { }) results);
  # A module that has neither options nor config is all config (the shorthand).
  definitions = map (result: if result ? options || result ? config then result.config or { } else builtins.removeAttrs result [ "imports" ]) results;
  show = path: builtins.concatStringsSep "." path;
  lookup = path: set: if path == [ ] then [ set ]
    else let head = builtins.head path; in
      if builtins.isAttrs set && set ? ${head} then lookup (builtins.tail path) set.${head} else [ ];
  valueOf = path: option:
    let
      values = builtins.concatMap (lookup path) definitions;
      merged =
        if values == [ ] then (if option ? default then option.default else throw "The option `${show path}' is used but not defined.")
        else if option.type.list or false then builtins.concatLists values
        else if builtins.all (v: v == builtins.head values) values then builtins.head values
        else throw "The option `${show path}' has conflicting definition values.";
    in if option.type.check merged then merged
       else throw "A definition for option `${show path}' is not of type `${option.type.description}'.";
  configOf = path: tree: builtins.mapAttrs (name: node:
    if isOption node then valueOf (path ++ [ name ]) node else configOf (path ++ [ name ]) node) tree;
  # Every definition must set a declared option, as in NixOS.
  undeclared = path: options: definition: builtins.concatMap (name:
    if !(options ? ${name}) then [ (show (path ++ [ name ])) ]
    else if isOption options.${name} then [ ]
    else if builtins.isAttrs definition.${name} then undeclared (path ++ [ name ]) options.${name} definition.${name}
    else [ (show (path ++ [ name ])) ]) (builtins.attrNames definition);
  unknown = builtins.concatMap (undeclared [ ] declared) definitions;
  config = configOf [ ] declared;
in
if unknown != [ ] then throw "The option `${builtins.head unknown}' does not exist."
else { inherit config; options = declared; }
NIX

cat > ~/nixos-lite/etcd.nix <<'NIX'
# Our cut-down copy of nixpkgs' etcd module (nixos/modules/services/databases/etcd.nix):
# its client and peer options with the same names and defaults, and the same ETCD_*
# environment for the etcd unit. The unit itself (ExecStart, User etcd) is left out:
# here you start etcd by hand with that environment.
{ config, lib, ... }:
let
  cfg = config.services.etcd;
  inherit (lib) mkOption types concatStringsSep filterAttrs optionalAttrs;
  urls = default: mkOption { inherit default; type = types.listOf types.str; };
  file = mkOption { default = null; type = types.nullOr types.path; };
in
{
  options.networking.hostName = mkOption { default = "nixos"; type = types.str; };
  options.services.etcd = {
    enable = mkOption { default = false; type = types.bool; };
    name = mkOption { default = config.networking.hostName; type = types.str; };
    dataDir = mkOption { default = "/var/lib/etcd"; type = types.path; };
    listenClientUrls = urls [ "http://127.0.0.1:2379" ];
    advertiseClientUrls = urls cfg.listenClientUrls;
    listenPeerUrls = urls [ "http://127.0.0.1:2380" ];
    initialAdvertisePeerUrls = urls cfg.listenPeerUrls;
    initialCluster = urls [ "${cfg.name}=http://127.0.0.1:2380" ];
    initialClusterState = mkOption { default = "new"; type = types.str; };
    initialClusterToken = mkOption { default = "etcd-cluster"; type = types.str; };
    discovery = mkOption { default = ""; type = types.str; };
    clientCertAuth = mkOption { default = false; type = types.bool; };
    peerClientCertAuth = mkOption { default = false; type = types.bool; };
    trustedCaFile = file;
    certFile = file;
    keyFile = file;
    peerTrustedCaFile = file;
    peerCertFile = file;
    peerKeyFile = file;
  };
  options.systemd.services.etcd = {
    enable = mkOption { default = false; type = types.bool; };
    environment = mkOption { default = { }; type = types.attrsOf types.str; };
  };
  # nixpkgs wraps this in mkIf cfg.enable; ours has no mkIf, so the unit carries the switch.
  config.systemd.services.etcd = {
    enable = cfg.enable;
    environment = (filterAttrs (n: v: v != null) {
      ETCD_NAME = cfg.name;
      ETCD_DISCOVERY = cfg.discovery;
      ETCD_DATA_DIR = cfg.dataDir;
      ETCD_ADVERTISE_CLIENT_URLS = concatStringsSep "," cfg.advertiseClientUrls;
      ETCD_LISTEN_CLIENT_URLS = concatStringsSep "," cfg.listenClientUrls;
      ETCD_LISTEN_PEER_URLS = concatStringsSep "," cfg.listenPeerUrls;
      ETCD_INITIAL_ADVERTISE_PEER_URLS = concatStringsSep "," cfg.initialAdvertisePeerUrls;
      ETCD_PEER_CLIENT_CERT_AUTH = toString cfg.peerClientCertAuth;
      ETCD_PEER_TRUSTED_CA_FILE = cfg.peerTrustedCaFile;
      ETCD_PEER_CERT_FILE = cfg.peerCertFile;
      ETCD_PEER_KEY_FILE = cfg.peerKeyFile;
      ETCD_CLIENT_CERT_AUTH = toString cfg.clientCertAuth;
      ETCD_TRUSTED_CA_FILE = cfg.trustedCaFile;
      ETCD_CERT_FILE = cfg.certFile;
      ETCD_KEY_FILE = cfg.keyFile;
    }) // (optionalAttrs (cfg.discovery == "") {
      ETCD_INITIAL_CLUSTER = concatStringsSep "," cfg.initialCluster;
      ETCD_INITIAL_CLUSTER_STATE = cfg.initialClusterState;
      ETCD_INITIAL_CLUSTER_TOKEN = cfg.initialClusterToken;
    });
  };
}
NIX

cat > ~/nixos-lite/evaluate.nix <<'NIX'
# Evaluates your machine's configuration, ~/machine.nix, with nixos-lite's modules.
import ./eval-modules.nix { modules = [ ./etcd.nix (/. + builtins.getEnv "HOME" + "/machine.nix") ]; }
NIX

cat > ~/nixos-lite/etcd-env.nix <<'NIX'
# The etcd unit's environment, one NAME='value' line each, as a shell can read it (set -a; . FILE).
let
  environment = (import ./evaluate.nix).config.systemd.services.etcd.environment;
in
builtins.concatStringsSep "" (map (name: "${name}='${environment.${name}}'\n") (builtins.attrNames environment))
NIX
