# Passes when the unit-like PATH that ~/k8s/kubelet-path.nix renders lists only
# package folders (as a NixOS unit's PATH does, no /usr/bin) and `mount` is found
# on it, run as the kubelet would run it: with that PATH and nothing else.
[ -f ~/k8s/kubelet-path.nix ] || { echo "No ~/k8s/kubelet-path.nix yet: write it as in Step 4."; exit 1; }
if ! unit_path=$(nix-instantiate --eval --json ~/k8s/kubelet-path.nix 2>&1); then
  echo "nix-instantiate cannot evaluate ~/k8s/kubelet-path.nix:"; sed "s|$HOME|~|g" <<<"$unit_path" | head -n 12; exit 1
fi
unit_path=$(jq -r . <<<"$unit_path")
# Paths are shown from ~ (bash would expand a ~ in ${var//…/~} back to $HOME: sed keeps it).
tilde() { sed "s|$HOME|~|g" <<<"$1"; }
echo "The unit's PATH: $(tilde "$unit_path")"
IFS=: read -ra entries <<<"$unit_path"
for entry in "${entries[@]}"; do
  case "$entry" in
    "$HOME"/pkgs/*/bin) ;;
    *) echo "$entry is not a package's bin folder: a NixOS unit's PATH has no /usr/bin or /bin, only the packages its path option names (here, folders under ~/pkgs)."; exit 1;;
  esac
done
if ! out=$(env -i PATH="$unit_path" mount 2>&1); then
  echo "With that PATH alone, mount is not found: $(tilde "$out")"
  echo "This is what the author's kubelet met. Add the mount package to the path list (\"\${home}/pkgs/mount\")."
  exit 1
fi
for entry in "${entries[@]}"; do [ -x "$entry/mount" ] && { found="$entry/mount"; break; }; done
echo "mount runs with the unit's PATH alone: $(tilde "$found") (it listed $(wc -l <<<"$out") mounts)."
