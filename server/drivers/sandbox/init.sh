# PID 1 of a sandbox environment (run by sandbox.ts, never by hand).
#
# Started by `unshare --user --mount --net --pid --ipc --uts --cgroup --fork`
# as the environment's base uid, in the environment's cgroups. The lab server
# writes the uid/gid maps (uid 0 here is the base uid on the host); then this
# script builds the environment's root tree, pivots into it, and supervises
# the environment's own registry and containerd for as long as it lives.
#
# Its working directory: the environment's folder on the host (0700, its base uid's),
# holding stage/etc (files of its /etc), rootfs/ and state/ (mount points). The lab
# server starts it there, so no host folder above has to be searchable by its uid.
#
# Arguments: HOSTNAME STATE_SIZE REGISTRY_STORAGE [CGROUP_MOUNT...]
#   STATE_SIZE        size of the tmpfs holding /root /tmp /var and the /etc layer
#   REGISTRY_STORAGE  the shared, seeded registry storage (bound read-only), relative to here
#   CGROUP_MOUNT      VERSION:OPTIONS:NAME, one per hierarchy of the environment's cgroups
#
# Read by PID 1 from a pipe on fd 3 (`bash /dev/fd/3`), so `ps` shows a short command line.
# Prints "ready" on stdout once the registry and containerd answer.
set -euo pipefail
# bash reads this script on fd 255 now: its fd 3 (the pipe it came in) goes, lest services inherit it.
exec </dev/null 3<&-
hostname=$1 state_size=$2 storage=$3
shift 3

# mount -c everywhere below: paths stay as given (relative to here), never resolved from the host's /.
# Everything the reader can write lives on this tmpfs, charged to the environment's
# memory cgroup and capped in size: no host disk is ever filled from inside.
mount -c -t tmpfs -o "mode=755,nosuid,nodev,size=$state_size" nwl-state state
mount -c -t tmpfs -o mode=755,size=1m nwl-root rootfs
mkdir -p state/empty state/etc-upper state/etc-work state/root state/tmp state/cni \
  state/var/log state/var/tmp state/var/lib/containerd state/var/lib/docker-registry
cp -a stage/etc/. state/etc-upper/
cp -R --preserve=mode,timestamps /etc/skel/. state/root/ 2>/dev/null || true
chmod 700 state/root
chmod 1777 state/tmp state/var/tmp

cd rootfs
mkdir usr etc root tmp var run dev proc sys
# /usr read-only for good: an overlay with no upper layer cannot be remounted writable.
mount -c -t overlay -o ro,lowerdir=../state/empty:/usr nwl-usr usr
for top in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$top" ]; then ln -s "$(readlink "/$top")" "$top"
  elif [ -d "/$top" ]; then mkdir "$top"; mount -c --bind -o ro "/$top" "$top"
  fi
done
# /etc: the host's files, read-only to the reader (they are not its uid's), under
# a private layer with the environment's own hosts, hostname, CA bundle and configs.
mount -c -t overlay -o lowerdir=/etc,upperdir=../state/etc-upper,workdir=../state/etc-work,userxattr nwl-etc etc
mount -c --bind ../state/cni etc/cni/net.d
for private in root tmp var; do mount -c --bind "../state/$private" "$private"; done
mount -c --bind -o ro "../$storage" var/lib/docker-registry
mount -c -t tmpfs -o mode=755,nosuid,nodev,size=64m nwl-run run

mount -c -t tmpfs -o mode=755,nosuid,noexec,size=1m nwl-dev dev
for device in null zero full random urandom tty; do
  touch "dev/$device"
  mount -c --bind "/dev/$device" "dev/$device"
done
mkdir dev/pts dev/shm
mount -c -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts dev/pts
ln -s pts/ptmx dev/ptmx
ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin
ln -s /proc/self/fd/1 dev/stdout
ln -s /proc/self/fd/2 dev/stderr
mount -c -t tmpfs -o mode=1777,nosuid,nodev,size=64m nwl-shm dev/shm

mount -c -t proc -o nosuid,nodev,noexec proc proc
# Read-only per mount, not per superblock: runc mounts its own sysfs for --privileged.
mount -c -t sysfs -o nosuid,nodev,noexec sysfs sys
mount -c -o remount,bind,ro,nosuid,nodev,noexec sys
mount -c -t tmpfs -o mode=755,nosuid,nodev,noexec,size=1m cgroup sys/fs/cgroup
# The environment's cgroups, seen from its cgroup namespace (their root is the environment's cgroup).
for spec in "$@"; do
  IFS=: read -r version options name <<<"$spec"
  if [ "$version" = 2 ]; then
    if [ -z "$name" ]; then
      mount -c -t cgroup2 -o nosuid,nodev,noexec cgroup2 sys/fs/cgroup
    else
      mkdir "sys/fs/cgroup/$name"
      mount -c -t cgroup2 -o nosuid,nodev,noexec cgroup2 "sys/fs/cgroup/$name"
    fi
    continue
  fi
  mkdir "sys/fs/cgroup/$name"
  case $options in name=*) options=none,$options ;; esac
  mount -c -t cgroup -o "nosuid,nodev,noexec,$options" cgroup "sys/fs/cgroup/$name"
  # Co-mounted controllers (cpu,cpuacct) get a link per controller, as systemd makes them.
  if [[ $name == *,* ]]; then
    IFS=, read -ra controllers <<<"$name"
    for controller in "${controllers[@]}"; do ln -s "$name" "sys/fs/cgroup/$controller"; done
  fi
done

pivot_root . .
umount -c -l .
cd /
# From here on nothing of the host's file system is reachable: logs go inside.
exec 2>>/var/log/nwl-init.log
hostname "$hostname"
ip link set lo up

# The services, restarted whenever they die (a reader's `pkill`, `kill -9 -1`, the OOM killer).
declare -A services=()
start() {
  case $1 in
    registry) "$NWL_REGISTRY" serve /etc/docker/registry/config.yml </dev/null >>/var/log/registry.log 2>&1 & ;;
    containerd) containerd </dev/null >>/var/log/containerd.log 2>&1 & ;;
  esac
  services[$!]=$1
}
start registry
start containerd

ready=""
for _ in $(seq 1000); do
  if (exec 3<>/dev/tcp/127.0.0.2/443) 2>/dev/null && [ -S /run/containerd/containerd.sock ] && ctr --timeout 1s version >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.01
done
if [ -z "$ready" ]; then
  echo "not ready: registry or containerd did not answer within 10 s"
  tail -n 5 /var/log/registry.log /var/log/containerd.log || true
  exit 1
fi
echo ready
exec >&2

set +e
# A tick without a process per tick: a read that times out on a FIFO nobody writes.
mkfifo /run/nwl-init.tick
exec 3<>/run/nwl-init.tick
rm -f /run/nwl-init.tick
# Polled rather than `wait -n`: bash may have reaped (and forgotten) a service meanwhile.
# A dead service is started again one tick after it was found dead (0.5-1 s: no hot loop).
# Orphans reparented to PID 1 are reaped by bash itself (its SIGCHLD handler).
pending=()
while :; do
  read -r -t 0.5 -u 3 _
  for name in "${pending[@]}"; do start "$name"; done
  pending=()
  for pid in "${!services[@]}"; do
    kill -0 "$pid" 2>/dev/null && continue
    name=${services[$pid]}
    unset "services[$pid]"
    echo "$(date -Is) $name (pid $pid) exited; restarting it" >&2
    pending+=("$name")
  done
done
