# Passes when the series' failure is real here (no CNI config: `ctr run --cni` fails
# with "no network config found") and the reader hit it: the failed run left its
# container behind, created but never started (no task).
image=docker.io/library/busybox:latest
if [ -n "$(ls -A /etc/cni/net.d)" ]; then
  echo "/etc/cni/net.d is not empty ($(ls -A /etc/cni/net.d | tr '\n' ' ' | sed 's/ $//')): the failure needs it empty."
  echo "Already fixed it? To see the failure first, move the files aside for now (put them back in Step 6), then run the series' container:"
  echo "  mkdir -p ~/cni-aside && mv /etc/cni/net.d/* ~/cni-aside/"
  ctr images ls -q | grep -qx "$image" || echo "  ctr image pull $image"
  ctr containers info cni-test >/dev/null 2>&1 && echo "  ctr task rm -f cni-test; ctr container rm cni-test"
  echo "  ctr run --cni $image cni-test sleep 30"
  exit 1
fi
if ! ctr images ls -q | grep -qx "$image"; then
  echo "$image is not pulled yet, and ctr run needs it: ctr image pull $image"
  exit 1
fi
probe="nwl-probe-$$"
out=$(ctr run --cni --rm "$image" "$probe" true 2>&1)
ctr task rm -f "$probe" >/dev/null 2>&1; ctr container rm "$probe" >/dev/null 2>&1
if ! grep -q 'no network config found' <<<"$out"; then
  echo "ctr run --cni was expected to fail with \"no network config found\", and it printed:"
  sed "s|$HOME|~|g" <<<"$out"
  exit 1
fi
echo "With /etc/cni/net.d empty, ctr run --cni fails: ${out#ctr: }"
stuck=""
for container in $(ctr containers ls -q); do
  ctr tasks ls -q | grep -qx "$container" || stuck="$stuck $container"
done
if [ -z "$stuck" ]; then
  if ctr containers info cni-test >/dev/null 2>&1; then
    # It ran (a task exists): it was started while a config was there.
    echo "Container cni-test exists and has a task: it started, so it did not hit the failure."
    echo "Remove it, then run it again with /etc/cni/net.d empty:"
    echo "  ctr task rm -f cni-test; ctr container rm cni-test"
    echo "  ctr run --cni $image cni-test sleep 30"
  else
    echo "No container left by a failed run yet: run ctr run --cni $image cni-test sleep 30 and read its error."
  fi
  exit 1
fi
echo "Left behind, created but never started:$stuck (ctr container ls lists it; ctr task ls has no task for it)."
