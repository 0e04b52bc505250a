# Passes when ~/k8s/kubelet.nix evaluates (attribute `config`, a JSON string made by
# builtins.toJSON) and ~/k8s/kubelet-config.json is exactly what it renders now:
# a KubeletConfiguration of the v1beta1 API.
nix_file=~/k8s/kubelet.nix json_file=~/k8s/kubelet-config.json
[ -f "$nix_file" ] || { echo "No ~/k8s/kubelet.nix yet: write it as in Step 1."; exit 1; }
if ! rendered=$(nix-instantiate --eval --strict --json "$nix_file" -A config 2>&1); then
  echo "nix-instantiate cannot evaluate the attribute config of ~/k8s/kubelet.nix:"
  sed "s|$HOME|~|g" <<<"$rendered" | head -n 12
  exit 1
fi
if ! rendered=$(jq -r . <<<"$rendered" 2>/dev/null) || ! jq -e 'type == "object"' <<<"$rendered" >/dev/null 2>&1; then
  echo "The attribute config of ~/k8s/kubelet.nix is not a JSON object rendered by builtins.toJSON: it should read config = builtins.toJSON kubeletConfig;"
  exit 1
fi
[ -f "$json_file" ] || { echo "~/k8s/kubelet.nix evaluates; now write what it renders to ~/k8s/kubelet-config.json (the last command of Step 1)."; exit 1; }
jq -e . "$json_file" >/dev/null 2>&1 || { echo "~/k8s/kubelet-config.json is not JSON: render it again with the command of Step 1 (jq -r . turns Nix's JSON string into the file)."; exit 1; }
if [ "$(jq -S . "$json_file")" != "$(jq -S . <<<"$rendered")" ]; then
  echo "~/k8s/kubelet-config.json is not what ~/k8s/kubelet.nix renders now (edited since?): render it again with the command of Step 1."
  exit 1
fi
kind=$(jq -r '.kind // "(none)"' "$json_file") api=$(jq -r '.apiVersion // "(none)"' "$json_file")
[ "$kind" = KubeletConfiguration ] || { echo "kind is $kind: the kubelet reads a KubeletConfiguration."; exit 1; }
[ "$api" = kubelet.config.k8s.io/v1beta1 ] || { echo "apiVersion is $api: the kubelet's file API is kubelet.config.k8s.io/v1beta1."; exit 1; }
echo "~/k8s/kubelet-config.json is what Nix renders from ~/k8s/kubelet.nix: a $kind ($api) with $(jq 'keys | length' "$json_file") top-level fields."
