# package-lock.json with a `resolved` URL on every package, for nixpkgs'
# importNpmLock (which fetches `resolved` with `integrity` and skips entries
# without one). This project's lock has no `resolved` fields: the npm that
# wrote it leaves them out. Every entry here comes from the public npm
# registry (no aliases, links or git dependencies: checked below), whose
# tarball URL follows from the package's name and version:
#   https://registry.npmjs.org/NAME/-/BASENAME-VERSION.tgz
# (BASENAME is NAME without its @scope/). `integrity` stays the lock's own, so
# a wrong URL fails the fixed-output fetch instead of building something else.
#
# Builtins only (no nixpkgs), so `nix-instantiate --eval` can test it anywhere.
# Takes the parsed lock; returns it with `resolved` added.
{ lock, registry ? "https://registry.npmjs.org" }:
let
  inherit (builtins) match elemAt mapAttrs hasAttr throw;

  # "node_modules/a/node_modules/@s/b" -> "@s/b"
  nameOf = key:
    let m = match "(.*/)?node_modules/((@[^/]+/)?[^/]+)" key;
    in if m == null then throw "npm-lock.nix: ${key} is not under node_modules/" else elemAt m 1;

  baseNameOf' = name: let m = match "@[^/]+/(.+)" name; in if m == null then name else elemAt m 0;

  addResolved = key: entry:
    if key == "" || hasAttr "resolved" entry then entry
    else if entry.link or false then throw "npm-lock.nix: ${key} is a link; only registry packages are supported"
    else if hasAttr "name" entry then throw "npm-lock.nix: ${key} is an alias (${entry.name}); its URL cannot be derived from its path"
    else if !(hasAttr "integrity" entry) then throw "npm-lock.nix: ${key} has no integrity, so its download could not be checked"
    else if !(hasAttr "version" entry) then throw "npm-lock.nix: ${key} has no version"
    else
      let name = nameOf key;
      in entry // { resolved = "${registry}/${name}/-/${baseNameOf' name}-${entry.version}.tgz"; };
in
if (lock.lockfileVersion or 0) < 2 then throw "npm-lock.nix: needs lockfileVersion 2 or 3 (a `packages` map)"
else lock // { packages = mapAttrs addResolved lock.packages; }
