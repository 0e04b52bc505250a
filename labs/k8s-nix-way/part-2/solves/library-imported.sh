cd ~
cat > ~/k8s/lib.nix <<'NIX'
{
  mkConfig = config: builtins.toJSON config;
}
NIX
nix-instantiate --eval -E 'let k8l = import ./k8s/lib.nix; in k8l.mkConfig { foo = "bar"; }'
