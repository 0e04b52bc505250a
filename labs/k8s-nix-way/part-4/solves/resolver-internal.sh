echo '::1 fat-controller.internal' >> /etc/hosts
getent hosts fat-controller.internal
sed -i 's|https://fat-controller.local:6443|https://fat-controller.internal:6443|' ~/k8s/kubelet.nix
nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A kubeconfig | jq -r . > ~/k8s/kubelet-kubeconfig.json
jq -r '.clusters[0].cluster.server' ~/k8s/kubelet-kubeconfig.json
