# Passes when ~/node (a root folder standing in for the node's /) has the tmpfiles
# rule for the kubelet's drop-in folder, and systemd-tmpfiles made the folder from
# it: a directory, mode 0755, owned by the user kubernetes, whom the rule must name.
conf=~/node/etc/tmpfiles.d/kubelet-config-dropin.conf dir=~/node/var/lib/kubelet/config.d
[ -s "$conf" ] || { echo "No ~/node/etc/tmpfiles.d/kubelet-config-dropin.conf yet: render ~/k8s/tmpfiles.nix into it as in Step 3."; exit 1; }
rule=$(grep -m1 -E '^d[[:space:]]+/var/lib/kubelet/config\.d[[:space:]]' "$conf")
[ -n "$rule" ] || { echo "kubelet-config-dropin.conf has no d rule for /var/lib/kubelet/config.d; it reads:"; sed 's/^/  /' "$conf"; exit 1; }
echo "The rule: $rule"
read -r _ _ mode user _ <<<"$rule"
# "-" is systemd-tmpfiles' default for a directory: 0755.
if [ "$mode" != - ] && [ "$mode" != 0755 ] && [ "$mode" != 755 ]; then
  echo "The rule gives the folder mode ${mode:-(none)}, not 0755: the kubelet must be able to list its drop-ins (mode = \"0755\" in ~/k8s/tmpfiles.nix, Step 3)."
  exit 1
fi
if [ "$user" != kubernetes ]; then
  echo "The rule names the user ${user:-(none)}, not kubernetes: the kubelet's drop-in folder belongs to kubernetes (user = \"kubernetes\" in ~/k8s/tmpfiles.nix, Step 3)."
  exit 1
fi
if [ ! -d "$dir" ]; then
  echo "~/node/var/lib/kubelet/config.d does not exist: run systemd-tmpfiles --create --root ~/node and read what it says."
  if ! grep -q "^$user:" ~/node/etc/passwd 2>/dev/null; then
    echo "(It cannot make a folder for the user $user while ~/node/etc/passwd has no such user: on NixOS the module declares it; here, add it as in Step 3.)"
  fi
  exit 1
fi
actual_mode=$(stat -c %a "$dir")
[ "$actual_mode" = 755 ] || { echo "The folder's mode is $actual_mode, not 755 (the rule says $mode): run systemd-tmpfiles --create --root ~/node again."; exit 1; }
uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' ~/node/etc/passwd 2>/dev/null)
[ -n "$uid" ] || { echo "~/node/etc/passwd has no user $user, which the rule names."; exit 1; }
[ "$(stat -c %u "$dir")" = "$uid" ] || { echo "The folder belongs to uid $(stat -c %u "$dir"), not to $user ($uid): run systemd-tmpfiles --create --root ~/node again."; exit 1; }
echo "systemd-tmpfiles made it: $(stat -c '%A %U' "$dir" | sed "s/ .*//") ~/node/var/lib/kubelet/config.d, owned by $user (uid $uid in ~/node/etc/passwd)."
