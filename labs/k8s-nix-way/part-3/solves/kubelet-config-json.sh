mkdir -p ~/k8s
cat > ~/k8s/kubelet.nix <<'NIX'
let
  secretsPath = "/var/lib/kubernetes/secrets";
  kubeletConfig = {
    apiVersion = "kubelet.config.k8s.io/v1beta1";
    kind = "KubeletConfiguration";
    enableServer = true;
    tlsCertFile = "${secretsPath}/kubelet-tls-cert-file.pem";
    tlsPrivateKeyFile = "${secretsPath}/kubelet-tls-private-key-file.pem";
    tlsMinVersion = "VersionTLS12";
    authentication = {
      x509.clientCAFile = "${secretsPath}/ca.pem";
      webhook = { enabled = true; cacheTTL = "10s"; };
    };
    authorization.mode = "webhook";
    clusterDomain = "local";
    imageMaximumGCAge = "7d";
  };
in
{
  config = builtins.toJSON kubeletConfig;
}
NIX
nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A config | jq -r . > ~/k8s/kubelet-config.json
jq . ~/k8s/kubelet-config.json
