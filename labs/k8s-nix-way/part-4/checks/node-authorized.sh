# Passes when the running kube-apiserver has Node among its authorization modes and
# the API server lists the kubelet's node. Only on the NixOS lab VM (`needs`).
cmdline=$(pgrep -a kube-apiserver | head -n 1)
[ -n "$cmdline" ] || { echo "No kube-apiserver runs: systemctl status k8s-apiserver says why."; exit 1; }
grep -qE -- '--authorization-mode[= ]([^ ]*,)?Node(,| |$)' <<<"$cmdline" || { echo "The running kube-apiserver has no Node authorization mode: $(grep -oE -- '--authorization-mode[= ][^ ]+' <<<"$cmdline" || echo "no --authorization-mode")"; exit 1; }
nodes=$(kubectl get nodes --no-headers 2>&1) || { echo "kubectl get nodes failed: $nodes"; exit 1; }
[ -n "$nodes" ] || { echo "The API server runs with Node authorization, but no node is registered yet: is k8s-kubelet running?"; exit 1; }
echo "$nodes"
echo "The kubelet registered its node."
