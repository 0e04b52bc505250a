# Passes when the series' failure is real here (no CNI config: `ctr run --cni` fails
# with "no network config found") and the reader hit it: the failed run left its
# container behind, created but never started.
image=docker.io/library/busybox:latest
if [ -n "$(ls -A /etc/cni/net.d)" ]; then
  echo "/etc/cni/net.d is not empty ($(ls /etc/cni/net.d | tr '\n' ' ')): the failure needs it empty. Already fixed? Go on to the next step."
  exit 1
fi
if ! ctr images ls -q | grep -qx "$image"; then
  echo "$image is not pulled yet: pull it first, ctr run needs it."
  exit 1
fi
probe="nwl-probe-$$"
out=$(ctr run --cni --rm "$image" "$probe" true 2>&1)
ctr task rm -f "$probe" >/dev/null 2>&1; ctr container rm "$probe" >/dev/null 2>&1
if ! grep -q 'no network config found' <<<"$out"; then
  echo "Expected ctr run --cni to fail with \"no network config found\", got:"
  echo "$out"
  exit 1
fi
echo "With /etc/cni/net.d empty, ctr run --cni fails: ${out#ctr: }"
stuck=""
for container in $(ctr containers ls -q); do
  ctr tasks ls -q | grep -qx "$container" || stuck="$stuck $container"
done
if [ -z "$stuck" ]; then
  echo "No container left by a failed run yet: run \`ctr run --cni $image cni-test sleep 30\` and read its error."
  exit 1
fi
echo "Left behind, created but never started:$stuck (like the series' container stuck in Created)."
