mkdir -p ~/pkgs/coreutils/bin
for command in cat ls mkdir; do ln -sf /usr/bin/$command ~/pkgs/coreutils/bin/; done
cat > ~/k8s/kubelet-path.nix <<'NIX'
let
  home = builtins.getEnv "HOME";
  path = [ "${home}/pkgs/coreutils" ];
in
builtins.concatStringsSep ":" (map (package: "${package}/bin") path)
NIX
unit_path=$(nix-instantiate --eval --json ~/k8s/kubelet-path.nix | jq -r .)
echo "$unit_path"
env -i PATH="$unit_path" mount
mkdir -p ~/pkgs/mount/bin
ln -sf /usr/bin/mount ~/pkgs/mount/bin/
sed -i 's|path = \[ "${home}/pkgs/coreutils" \];|path = [ "${home}/pkgs/coreutils" "${home}/pkgs/mount" ];|' ~/k8s/kubelet-path.nix
unit_path=$(nix-instantiate --eval --json ~/k8s/kubelet-path.nix | jq -r .)
env -i PATH="$unit_path" mount | head -n 3
