# Passes when the rendered KubeletConfiguration gets past the two rules the author
# hit. No kubelet runs on this machine: the mode rule is this lab's check, written
# from the kubelet's own validation; the duration is parsed by Go itself
# (time.ParseDuration, through etcdctl's --dial-timeout flag), the parser the
# kubelet's durations go through.
json_file=~/k8s/kubelet-config.json
jq -e . "$json_file" >/dev/null 2>&1 || { echo "No ~/k8s/kubelet-config.json to read: Step 1 renders it."; exit 1; }
if rendered=$(nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A config 2>/dev/null | jq -r . 2>/dev/null) &&
   [ "$(jq -S . "$json_file")" != "$(jq -S . <<<"$rendered" 2>/dev/null)" ]; then
  echo "~/k8s/kubelet.nix has changed since ~/k8s/kubelet-config.json was rendered: render it again (the last command of Step 1), then check."
  exit 1
fi
bad=0
mode=$(jq -r '.authorization.mode // empty' "$json_file")
case "$mode" in
  Webhook) echo "authorization.mode: Webhook (the kubelet asks the API server whether each request is allowed).";;
  AlwaysAllow) echo "authorization.mode is AlwaysAllow: anyone who reaches the kubelet may do anything. The series uses Webhook."; bad=1;;
  "") echo "authorization.mode is not set: the series sets authorization = { mode = \"Webhook\"; };"; bad=1;;
  *)
    echo "authorization.mode is \"$mode\": the kubelet accepts only AlwaysAllow or Webhook, spelled exactly so, and refuses to start otherwise."
    [ "${mode,,}" = webhook ] && echo "  The rest of the file is camelCase (authentication.webhook), but this value is PascalCase: \"Webhook\"."
    bad=1;;
esac
age=$(jq -r '.imageMaximumGCAge // empty' "$json_file")
if [ -z "$age" ]; then
  echo "imageMaximumGCAge is not set: the series sets it to a week."
  bad=1
elif parsed=$(ETCDCTL_API=3 etcdctl --dial-timeout "$age" version 2>&1); then
  echo "imageMaximumGCAge: \"$age\", a duration Go's time.ParseDuration reads."
else
  reason=$(grep -m1 -o 'time: .*' <<<"$parsed")
  echo "imageMaximumGCAge is \"$age\", and Go's duration parser refuses it (${reason:-not a duration}): its largest unit is h, so a week is \"168h\" or, as the author wrote it, \"604800s\"."
  bad=1
fi
[ "$bad" = 0 ] || { echo "(This check is the lab's, not the kubelet's: no kubelet runs here.) Fix ~/k8s/kubelet.nix, render it again, check again."; exit 1; }
echo "Both would pass the kubelet's loading of the file (checked here by the lab, with Go's own duration parser)."
