#!/usr/bin/env bash
# Installs what Nix Way Labs needs, and only what is missing: the system
# packages the labs (and, with --test, the browser tests) use, then the npm
# dependencies, Node 24 among them. On Debian as root it installs them; elsewhere
# it names what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package
declare -A needs=(
  [containerd]=containerd [runc]=runc [/usr/lib/cni/loopback]=containernetworking-plugins
  [/bin/busybox]=busybox-static [etcd]=etcd-server [etcdctl]=etcd-client
  [docker-registry]=docker-registry [openssl]=openssl [nix-instantiate]=nix-bin [unshare]=util-linux [nsenter]=util-linux
  [ip]=iproute2 [ps]=procps [git]=git [python3]=python3 [make]=make [g++]=g++
)
# --test: the browser tests' Chromium, and Nix 2.8 for nix/nix-files.test.ts (every .nix file parses).
if [[ ${1:-} == --test ]]; then needs[chromium]=chromium; needs[nix-instantiate]=nix-bin; fi

have() { if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null 2>&1; fi; }

missing=()
for command in "${!needs[@]}"; do
  have "$command" || missing+=("${needs[$command]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ -r /etc/debian_version && $(id -u) == 0 ]]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages (Debian names): ${missing[*]}" >&2
    echo "setup: install them with your package manager (as root on Debian: apt-get install ${missing[*]}), then run this again." >&2
    exit 1
  fi
fi

# npm dependencies, reinstalled when the lock file changed since the last install.
if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies (Node 24 comes with them)"
  npm ci --no-audit --no-fund --loglevel=error
fi
