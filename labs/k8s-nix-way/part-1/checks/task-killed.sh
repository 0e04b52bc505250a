# Passes when the task of `test` is STOPPED (killed, not yet deleted).
# A kill just sent may take a moment to show: look a few times.
for _ in 1 2 3 4 5; do
  tasks=$(ctr tasks ls 2>&1)
  status=$(awk '$1 == "test" { print $3 }' <<<"$tasks")
  [ "$status" = STOPPED ] && { echo "$tasks"; exit 0; }
  [ "$status" = RUNNING ] || break
  sleep 0.1
done
echo "$tasks"
if ! ctr containers info test >/dev/null 2>&1; then
  echo "There is no container test any more, so no task to kill. To do this step, make it again and start it, then kill it:"
  echo "  ctr container create docker.io/library/alpine:latest test sleep 2000"
  echo "  ctr task start -d test"
  echo "  ctr task kill -s SIGKILL test"
  exit 1
fi
case $status in
  RUNNING) echo "The task of test is still RUNNING: ctr task kill -s SIGKILL test" ;;
  "")
    echo "Container test has no task: it was never started, or its task was removed (ctr task rm). Start it, then kill it:"
    echo "  ctr task start -d test"
    echo "  ctr task kill -s SIGKILL test" ;;
  PAUSED) echo "The task of test is paused; SIGKILL takes effect once it runs: ctr task kill -s SIGKILL test && ctr task resume test" ;;
  *) echo "The task of test is $status, not STOPPED: ctr task kill -s SIGKILL test" ;;
esac
exit 1
