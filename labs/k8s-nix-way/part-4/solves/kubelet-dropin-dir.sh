cat > ~/k8s/tmpfiles.nix <<'NIX'
let
  # As in the author's module: systemd.tmpfiles.settings.<file>.<path>.<type>
  settings."kubelet-config-dropin"."/var/lib/kubelet/config.d" = {
    d = { user = "kubernetes"; mode = "0755"; };
  };
  # One line per path and type, "-" for what is not set (our sketch of what NixOS writes).
  line = path: type: entry: builtins.concatStringsSep " " [
    type path (entry.mode or "-") (entry.user or "-") (entry.group or "-") (entry.age or "-")
  ];
  rules = paths: builtins.concatStringsSep "" (builtins.concatLists (builtins.attrValues
    (builtins.mapAttrs (path: types: builtins.attrValues
      (builtins.mapAttrs (type: entry: line path type entry + "\n") types)) paths)));
in
builtins.mapAttrs (name: paths: rules paths) settings
NIX
mkdir -p ~/node/etc/tmpfiles.d
nix-instantiate --eval --strict --json ~/k8s/tmpfiles.nix -A kubelet-config-dropin | jq -r . > ~/node/etc/tmpfiles.d/kubelet-config-dropin.conf
cat ~/node/etc/tmpfiles.d/kubelet-config-dropin.conf
systemd-tmpfiles --create --root ~/node
grep -q '^kubernetes:' ~/node/etc/passwd 2>/dev/null || echo 'kubernetes:x:994:994:Kubernetes:/var/lib/kubernetes:/usr/sbin/nologin' >> ~/node/etc/passwd
grep -q '^kubernetes:' ~/node/etc/group 2>/dev/null || echo 'kubernetes:x:994:' >> ~/node/etc/group
systemd-tmpfiles --create --root ~/node
ls -ldn ~/node/var/lib/kubelet/config.d
