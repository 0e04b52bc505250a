# Passes when Go's own resolver (GODEBUG=netdns=go, as in the author's kubectl, built
# without cgo) finds fat-controller.internal and reaches a server there, and the
# kubelet's kubeconfig (Part 3's) names the API server by that name.
# The probe is an etcd of the check's own on [::1]:2579, stopped after: etcdctl is the
# lab's Go client, and `endpoint health` only succeeds if the name resolved.
name=fat-controller.internal
addresses=$(getent hosts "$name" | awk '{ print $1 }' | tr '\n' ' ')
[ -n "$addresses" ] || { echo "$name does not resolve: /etc/hosts has no line for it yet (echo '::1 $name' >> /etc/hosts)."; exit 1; }
echo "/etc/hosts: $name is $addresses"
data=$(mktemp -d /tmp/nwl-probe-etcd.XXXXXX)
etcd --name probe --data-dir "$data" \
  --listen-client-urls 'http://[::1]:2579' --advertise-client-urls 'http://[::1]:2579' \
  --listen-peer-urls 'http://[::1]:2580' --initial-advertise-peer-urls 'http://[::1]:2580' \
  --initial-cluster 'probe=http://[::1]:2580' >"$data.log" 2>&1 &
probe=$!
stop() { kill "$probe" 2>/dev/null; wait "$probe" 2>/dev/null; rm -rf "$data" "$data.log"; }
for _ in $(seq 40); do ETCDCTL_API=3 etcdctl --endpoints 'http://[::1]:2579' --dial-timeout 1s endpoint health >/dev/null 2>&1 && break; sleep 0.25; done
out=$(GODEBUG=netdns=go+2 ETCDCTL_API=3 etcdctl --endpoints "http://$name:2579" --dial-timeout 2s --command-timeout 3s endpoint health 2>&1)
status=$?
stop
order=$(grep -m1 -o "hostLookupOrder($name) = .*" <<<"$out")
echo "Go's resolver: ${order:-(no debug line)}"
if [ "$status" != 0 ] || ! grep -q 'is healthy' <<<"$out"; then
  echo "etcdctl (Go's own resolver) did not reach $name:2579: does $name point at ::1, where the probe listens?"
  exit 1
fi
echo "etcdctl reached http://$name:2579 through Go's own resolver: files first, then DNS."
server=$(jq -r '.clusters[0].cluster.server // empty' ~/k8s/kubelet-kubeconfig.json 2>/dev/null)
[ -n "$server" ] || { echo "No ~/k8s/kubelet-kubeconfig.json with a server (Part 3's Step 3 renders it)."; exit 1; }
if rendered=$(nix-instantiate --eval --strict --json ~/k8s/kubelet.nix -A kubeconfig 2>/dev/null | jq -r . 2>/dev/null) &&
   [ "$(jq -S . ~/k8s/kubelet-kubeconfig.json)" != "$(jq -S . <<<"$rendered" 2>/dev/null)" ]; then
  echo "~/k8s/kubelet.nix has changed since ~/k8s/kubelet-kubeconfig.json was rendered: render it again (the last command of Step 5)."
  exit 1
fi
[[ "$server" == "https://$name:"* ]] || { echo "The kubelet's kubeconfig still names $server: make it https://$name:6443 in ~/k8s/kubelet.nix and render it again."; exit 1; }
echo "The kubelet's kubeconfig names $server."
