# Enters a sandbox environment (run by enter.ts on the host, as root, never by hand).
#
# Arguments: INIT_PID INIT_START STAT NS_INODES CGROUP_DIR... -- COMMAND...
#   INIT_PID, INIT_START  the environment's PID 1 on the host and its start time
#                         (field 22 of /proc/PID/stat): a reused pid has another
#   STAT                  the host's stat(1)
#   NS_INODES             "user mnt net pid ipc uts cgroup" inode numbers of its namespaces
#   CGROUP_DIR            the environment's cgroups: joined before anything else,
#                         so its limits hold for whatever runs inside
#   COMMAND               env -i … nsenter --user=/proc/self/fd/3 … -- …
#
# The namespaces and root are opened first (fds 3-10), then checked against
# the recorded ones: whatever happens to the pid meanwhile, nsenter only
# ever enters the environment it was given. Exits 125 when it has ended.
# Whatever the lab server inherited and passed on (fds without close-on-exec) must not
# reach the environment: a host directory's fd would be a way out of its root.
for fd in /proc/self/fd/*; do
  fd=${fd##*/}
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
pid=$1 start=$2 stat=$3 expected=$4
shift 4
ended() {
  echo "nwl-enter: lab environment has ended ($1)" >&2
  exit 125
}
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  echo "$$" 2>/dev/null >"$1/cgroup.procs" || ended "cannot join its cgroup $1"
  shift
done
shift
ns=/proc/$pid/ns
# Not `{ …; } 2>/dev/null`: bash would save stderr on fd 10 meanwhile.
exec 11>&2 2>/dev/null
exec 3<"$ns/user" 4<"$ns/mnt" 5<"$ns/net" 6<"$ns/pid" 7<"$ns/ipc" 8<"$ns/uts" 9<"$ns/cgroup" 10<"/proc/$pid/root" ||
  { exec 2>&11; ended "its PID 1 ($pid) is gone"; }
exec 2>&11 11>&-
inodes=$("$stat" -L -c %i /proc/self/fd/3 /proc/self/fd/4 /proc/self/fd/5 /proc/self/fd/6 /proc/self/fd/7 /proc/self/fd/8 /proc/self/fd/9) ||
  ended "its namespaces are gone"
[ "$(echo $inodes)" = "$expected" ] || ended "pid $pid is no longer its PID 1"
read -r line 2>/dev/null <"/proc/$pid/stat" || ended "its PID 1 ($pid) is gone"
read -ra fields <<<"${line##*) }"
[ "${fields[19]}" = "$start" ] || ended "pid $pid is no longer its PID 1"
exec "$@"
