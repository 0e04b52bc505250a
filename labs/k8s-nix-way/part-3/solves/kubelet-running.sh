systemctl restart k8s-kubelet
sleep 5
systemctl status k8s-kubelet --no-pager | head -n 5
