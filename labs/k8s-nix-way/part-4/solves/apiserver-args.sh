mkdir -p ~/k8s
cat > ~/k8s/apiserver.nix <<'NIX'
let
  secretsPath = "/var/lib/kubernetes/secrets";
  serviceArgs = [
    "--etcd-servers" "https://[::1]:2379"
    "--client-ca-file" "${secretsPath}/ca.pem"
    "--authorization-mode" "RBAC"
  ];
in
{
  execStart = builtins.concatStringsSep " " ([ "kube-apiserver" ] ++ serviceArgs);
}
NIX
nix-instantiate --eval --strict --json ~/k8s/apiserver.nix -A execStart | jq -r .
sed -i 's/"--authorization-mode" "RBAC"/"--authorization-mode" "RBAC,Node"/' ~/k8s/apiserver.nix
nix-instantiate --eval --strict --json ~/k8s/apiserver.nix -A execStart | jq -r .
