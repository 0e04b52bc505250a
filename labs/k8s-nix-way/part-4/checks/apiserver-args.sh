# Passes when ~/k8s/apiserver.nix's execStart (evaluated here by Nix) gives the
# API server an authorization mode with both RBAC and Node. The API server does
# not run here: this reads the command line it would get.
[ -f ~/k8s/apiserver.nix ] || { echo "No ~/k8s/apiserver.nix yet: write it as in Step 1."; exit 1; }
if ! line=$(nix-instantiate --eval --strict --json ~/k8s/apiserver.nix -A execStart 2>&1); then
  echo "nix-instantiate cannot evaluate the attribute execStart of ~/k8s/apiserver.nix:"
  sed "s|$HOME|~|g" <<<"$line" | head -n 12
  exit 1
fi
line=$(jq -r . <<<"$line")
echo "execStart: $line"
mode=$(grep -oE -- '--authorization-mode[= ][^ ]+' <<<"$line" | tail -n 1 | sed -E 's/^--authorization-mode[= ]//')
[ -n "$mode" ] || { echo "No --authorization-mode: the series passes \"--authorization-mode\" \"RBAC,Node\" in serviceArgs."; exit 1; }
IFS=, read -ra modes <<<"$mode"
has() { local m; for m in "${modes[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }
if ! has Node; then
  echo "The authorization mode is $mode, without Node: the API server would then let a kubelet do only what RBAC roles grant its node's user, and the author's kubelet could not do anything. Add Node: \"RBAC,Node\"."
  exit 1
fi
has RBAC || { echo "The authorization mode is $mode, without RBAC: roles and bindings would mean nothing. The series uses \"RBAC,Node\"."; exit 1; }
echo "The API server would authorize kubelets by their node (Node) and everyone by roles (RBAC)."
