# Passes when ~/k8s/kubelet-kubeconfig.json is what ~/k8s/kubelet.nix's attribute
# kubeconfig renders now, and its current context leads to a cluster with an
# https server on port 6443 and a user with a client certificate.
json_file=~/k8s/kubelet-kubeconfig.json
[ -f ~/k8s/kubelet.nix ] || { echo "No ~/k8s/kubelet.nix: Step 1 writes it."; exit 1; }
if ! rendered=$(nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A kubeconfig 2>&1); then
  if grep -q "attribute 'kubeconfig'" <<<"$rendered"; then
    echo "~/k8s/kubelet.nix has no attribute kubeconfig yet: add kubeletKubeconfig and kubeconfig = builtins.toJSON kubeletKubeconfig; as in Step 3."
  else
    echo "nix-instantiate cannot evaluate the attribute kubeconfig of ~/k8s/kubelet.nix:"
    sed "s|$HOME|~|g" <<<"$rendered" | head -n 12
  fi
  exit 1
fi
rendered=$(jq -r . <<<"$rendered")
[ -f "$json_file" ] || { echo "The attribute kubeconfig evaluates; now render it to ~/k8s/kubelet-kubeconfig.json (the last command of Step 3)."; exit 1; }
if [ "$(jq -S . "$json_file" 2>/dev/null)" != "$(jq -S . <<<"$rendered" 2>/dev/null)" ]; then
  echo "~/k8s/kubelet-kubeconfig.json is not what ~/k8s/kubelet.nix renders now: render it again (the last command of Step 3)."
  exit 1
fi
context=$(jq -r '."current-context" // empty' "$json_file")
[ -n "$context" ] || { echo "The kubeconfig has no current-context: the kubelet would not know which cluster and user to use."; exit 1; }
cluster=$(jq -r --arg c "$context" '.contexts[]? | select(.name == $c) | .context.cluster' "$json_file")
user=$(jq -r --arg c "$context" '.contexts[]? | select(.name == $c) | .context.user' "$json_file")
server=$(jq -r --arg c "$cluster" '.clusters[]? | select(.name == $c) | .cluster.server' "$json_file")
cert=$(jq -r --arg u "$user" '.users[]? | select(.name == $u) | .user["client-certificate"] // empty' "$json_file")
[ -n "$server" ] || { echo "The context \"$context\" leads to no cluster with a server: the API server's address goes in clusters[].cluster.server."; exit 1; }
[[ "$server" == https://*:6443 ]] || { echo "The server is $server: the API server listens with TLS on port 6443 (https://fat-controller.local:6443 in the series)."; exit 1; }
[ -n "$cert" ] || { echo "The user \"$user\" has no client-certificate: the kubelet signs in to the API server with one."; exit 1; }
echo "Context $context: user $user (a client certificate) on cluster $cluster at $server."
echo "The KubeletConfiguration has no field for that address: it lives in this kubeconfig only."
