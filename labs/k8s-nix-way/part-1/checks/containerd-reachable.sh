# Passes when containerd answers ctr now and the reader saved what `ctr version` printed.
if ! version=$(ctr --timeout 3s version 2>&1) || ! grep -q '^Server:' <<<"$version"; then
  echo "ctr cannot reach containerd at ${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}:"
  echo "$version"
  exit 1
fi
server=$(sed -n '/^Server:/,$p' <<<"$version" | grep -m1 'Version:')
echo "containerd answers:${server#*:}"
if [ ! -s containerd-version.txt ]; then
  echo "Save what \`ctr version\` prints to containerd-version.txt (in $HOME) to complete this step."
  exit 1
fi
grep -q '^Server:' containerd-version.txt || { echo "containerd-version.txt has no Server section: was containerd reachable when you saved it?"; exit 1; }
grep -qF "$server" containerd-version.txt || { echo "containerd-version.txt names another server version than the running one."; exit 1; }
