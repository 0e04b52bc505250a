# Passes when containerd answers ctr now and the reader saved what `ctr version` printed
# as ~/containerd-version.txt. ctr's errors name the socket, a host path under one of
# the drivers: they stay out of the message.
if ! version=$(ctr --timeout 3s version 2>/dev/null) || ! grep -q '^Server:' <<<"$version"; then
  echo "ctr cannot reach containerd right now: it is not answering."
  echo "The lab restarts containerd by itself when it stops: wait a few seconds and check again."
  exit 1
fi
server=$(sed -n '/^Server:/,$p' <<<"$version" | grep -m1 'Version:')
echo "containerd answers:${server#*:}"
if [ ! -s "$HOME/containerd-version.txt" ]; then
  # Saved, but somewhere else (e.g. from ~/pki, if Step 3's cd ~ was skipped)?
  elsewhere=$(find "$HOME" -maxdepth 3 -name containerd-version.txt -size +0 2>/dev/null | head -1)
  if [ -n "$elsewhere" ]; then
    shown="~${elsewhere#"$HOME"}"
    echo "Found $shown, but this step reads ~/containerd-version.txt: mv $shown ~/"
  else
    echo "Save what ctr version prints as ~/containerd-version.txt: ctr version | tee ~/containerd-version.txt"
  fi
  exit 1
fi
grep -q '^Server:' "$HOME/containerd-version.txt" || { echo "~/containerd-version.txt has no Server section: was containerd reachable when you saved it? Save it again: ctr version | tee ~/containerd-version.txt"; exit 1; }
grep -qF "$server" "$HOME/containerd-version.txt" || { echo "~/containerd-version.txt names another server version than the running one. Save it again: ctr version | tee ~/containerd-version.txt"; exit 1; }
