systemctl restart k8s-apiserver k8s-kubelet
sleep 10
kubectl get nodes
