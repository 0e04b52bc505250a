mkdir -p ~/k8s && cd ~
cat > k8s/default.nix <<'NIX'
{ ... }:
{
  imports = [
    ./etcd.nix
    ./containerd.nix
  ];
}
NIX
echo '{ ... }: { }' > k8s/etcd.nix
echo '{ ... }: { }' > k8s/containerd.nix
echo '{ }' > k8s/lib.nix
git init -q . && git add k8s
git status --short
