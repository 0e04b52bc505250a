#!/usr/bin/env bash
# Proves that the CNI folder, busybox and the registry's name are not assumed:
# in a mount namespace of its own (unshare -m, this run only) where
# /usr/lib/cni is an empty folder and the host's busybox (the file
# `command -v busybox` resolves to) an empty file, with a PATH that is only
# PREFIX/bin (a symlink to every program of this host, the registry under
# nixpkgs' name `registry`, a copy of busybox) and the CNI plugins copied to
# PREFIX/lib/cni (named in a TOML config file), it runs
#   1. node server/main.ts doctor --driver host-namespaces   (must say OK)
#   2. the server itself, until /healthz answers ok           (images built, registry seeded)
#   3. npm run lab:test -- k8s-nix-way-part-1 --driver host-namespaces
#      (one lab is enough here: scripts/test.sh runs every lab in host-namespaces)
# Other programs are still where the host keeps them (symlinks): this is no full non-FHS host.
# Needs root. Usage: bash scripts/non-fhs-check.sh [PREFIX]   (default: a new /tmp folder, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
node=$(readlink -f node_modules/.bin/node)

if [ "${1:-}" != --inside ]; then
  prefix=${1:-$(mktemp -d /tmp/nwl-non-fhs-XXXXXX)}
  [ -n "${1:-}" ] || trap 'rm -rf "$prefix"' EXIT
  mkdir -p "$prefix/bin" "$prefix/lib/cni" "$prefix/empty"
  # Searchable by all, as a Nix store is (the sandbox's probe runs its tools as nobody).
  chmod 755 "$prefix"
  : >"$prefix/empty-file"
  # Every program on this host's PATH, by name; the registry as nixpkgs names it.
  IFS=: read -ra dirs <<<"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  for dir in "${dirs[@]}"; do
    for program in "$dir"/*; do
      name=${program##*/}
      [ -f "$program" ] && [ -x "$program" ] || continue
      case $name in busybox | docker-registry) continue ;; esac
      [ -e "$prefix/bin/$name" ] || ln -s "$program" "$prefix/bin/$name"
    done
  done
  ln -sf "$(command -v docker-registry)" "$prefix/bin/registry"
  # Copies: the originals are hidden inside.
  cp "$(command -v busybox)" "$prefix/bin/busybox"
  cp -a /usr/lib/cni/. "$prefix/lib/cni/"
  printf 'cniPluginDir = "%s"\n' "$prefix/lib/cni" >"$prefix/config.toml"
  exec unshare --mount --propagation private -- bash "$0" --inside "$prefix"
fi

prefix=$2
mount --bind "$prefix/empty" /usr/lib/cni
# The file itself, wherever this host keeps it (/bin/busybox may be a link to it).
busybox_real=$(readlink -f "$(command -v busybox)")
mount --bind "$prefix/empty-file" "$busybox_real"
if [ -e /usr/lib/cni/loopback ] || [ -s /bin/busybox ] || [ -s "$busybox_real" ]; then
  echo "non-fhs: /usr/lib/cni or /bin/busybox still visible" >&2
  exit 1
fi
echo "non-fhs: /usr/lib/cni is empty and /bin/busybox is an empty file in this mount namespace ($busybox_real bound over); PATH=$prefix/bin"
# Only PREFIX/bin and node's own folder (whose node_modules the server never searches for tools); VAR=… arguments first.
run() {
  env -i PATH="$prefix/bin:$(dirname "$node")" HOME="${HOME:-/root}" NWL_CONFIG="$prefix/config.toml" "$@"
}

echo "== doctor"
run "$node" server/main.ts doctor --driver host-namespaces

echo "== server"
data=$prefix/server-data
log=$prefix/server.log
run "$node" server/main.ts --driver host-namespaces --port 0 --data-dir "$data" >"$log" 2>&1 &
server=$!
stop_server() { kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; }
trap stop_server EXIT
for _ in $(seq 600); do
  grep -q "is serving" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
cat "$log"
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1)
[ -n "$url" ] || { echo "non-fhs: the server did not start" >&2; exit 1; }
health=$(run "$node" -e 'fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))' "${url}healthz")
echo "healthz: $health"
case $health in "200 "*'"status":"ok"'*) ;; *) echo "non-fhs: /healthz is not ok" >&2; exit 1 ;; esac
stop_server
trap - EXIT

echo "== lab:test"
run NWL_LAB_TEST_DATA_DIR="$prefix/lab-test-data" "$node" scripts/lab-test.ts k8s-nix-way-part-1 --driver host-namespaces
echo "non-fhs: OK"
