# Passes when container `test` runs `sleep 2000` and its task is RUNNING. When it is
# not, says what to type from where the reader is (no container, a container made
# with a typo, no task, a task that has stopped).
image=docker.io/library/alpine:latest
args_of() { ctr containers info "$1" 2>/dev/null | tr -d '\n' | grep -o '"args": *\[[^]]*\]' | head -1 | sed -e 's/^"args": *\[//' -e 's/\]$//' -e 's/", *"/ /g' -e 's/^ *"//' -e 's/" *$//'; }
task_status() { ctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
if ! ctr containers info test >/dev/null 2>&1; then
  echo "There is no container named test, so there is no task to run. Create it, then start it:"
  ctr images ls -q | grep -qx "$image" || echo "  ctr image pull $image"
  echo "  ctr container create $image test sleep 2000"
  echo "  ctr task start -d test"
  exit 1
fi
args=$(args_of test) status=$(task_status test)
if [ "$args" != "sleep 2000" ]; then
  echo "Container test runs \`$args\`, not \`sleep 2000\`${status:+ (its task is $status)}."
  echo "An id cannot be reused while its container exists: remove it, then create and start it again:"
  case $status in
    RUNNING) echo "  ctr task rm -f test        # its task is running: this kills and removes it" ;;
    PAUSED) echo "  ctr task resume test && ctr task rm -f test" ;;
  esac
  echo "  ctr container rm test"
  echo "  ctr container create $image test sleep 2000"
  echo "  ctr task start -d test"
  exit 1
fi
tasks=$(ctr tasks ls 2>&1)
case $status in
  RUNNING)
    echo "$tasks"
    exit 0 ;;
  "")
    echo "Container test has no task yet: start it, detached (-d), or sleep 2000 holds your terminal:"
    echo "  ctr task start -d test" ;;
  STOPPED)
    echo "$tasks"
    echo "The task of test has stopped (killed, or its command ended). A container has one task at a time: remove the old one, then start it again:"
    echo "  ctr task rm test"
    echo "  ctr task start -d test" ;;
  PAUSED)
    echo "$tasks"
    echo "The task of test is paused: ctr task resume test" ;;
  *)
    echo "$tasks"
    echo "The task of test is $status, not RUNNING. Remove it and start it again:"
    echo "  ctr task rm -f test"
    echo "  ctr task start -d test" ;;
esac
exit 1
