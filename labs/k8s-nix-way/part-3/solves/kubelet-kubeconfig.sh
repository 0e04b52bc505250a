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
    authorization.mode = "Webhook";
    clusterDomain = "local";
    imageMaximumGCAge = "604800s";
  };
  kubeletKubeconfig = {
    apiVersion = "v1";
    kind = "Config";
    users = [{
      name = "kubelet";
      user = {
        client-certificate = "${secretsPath}/kubelet-kubeconfig-client-certificate.pem";
        client-key = "${secretsPath}/kubelet-kubeconfig-client-key.pem";
      };
    }];
    clusters = [{
      name = "default";
      cluster = {
        certificate-authority = "${secretsPath}/ca.pem";
        server = "https://fat-controller.local:6443";
      };
    }];
    contexts = [{
      name = "default";
      context = { cluster = "default"; user = "kubelet"; };
    }];
    current-context = "default";
  };
in
{
  config = builtins.toJSON kubeletConfig;
  kubeconfig = builtins.toJSON kubeletKubeconfig;
}
NIX
nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A kubeconfig | jq -r . > ~/k8s/kubelet-kubeconfig.json
jq -r '.clusters[0].cluster.server' ~/k8s/kubelet-kubeconfig.json
