sed -i -e 's/authorization.mode = "webhook";/authorization.mode = "Webhook";/' \
       -e 's/imageMaximumGCAge = "7d";/imageMaximumGCAge = "604800s";/' ~/k8s/kubelet.nix
nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A config | jq -r . > ~/k8s/kubelet-config.json
jq '{authorization, imageMaximumGCAge}' ~/k8s/kubelet-config.json
