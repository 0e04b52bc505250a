# Passes when systemd runs the k8s-kubelet unit and the kubelet's health endpoint
# (localhost:10248, plain HTTP) answers ok. Only on the NixOS lab VM: the lab
# server answers for it elsewhere (the checkpoint's `needs`).
if ! systemctl is-active --quiet k8s-kubelet; then
  echo "The k8s-kubelet unit is $(systemctl is-active k8s-kubelet 2>/dev/null || echo "not active"):"
  journalctl -u k8s-kubelet -n 8 --no-pager 2>/dev/null
  exit 1
fi
# bash's /dev/tcp: the VM need not have curl.
health=$( { exec 3<>/dev/tcp/127.0.0.1/10248 && printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && timeout 3 cat <&3 | tail -n 1; } 2>/dev/null)
[ "$health" = ok ] || { echo "k8s-kubelet is active, but its health endpoint (localhost:10248/healthz) answers: ${health:-nothing}"; exit 1; }
echo "k8s-kubelet is active and healthy."
