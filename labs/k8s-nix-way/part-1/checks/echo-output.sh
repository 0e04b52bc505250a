# Passes when container `echo-test` runs `echo foo` and prints foo (the check starts it once).
image=docker.io/library/alpine:latest
args_of() { ctr containers info "$1" 2>/dev/null | tr -d '\n' | grep -o '"args": *\[[^]]*\]' | head -1 | sed -e 's/^"args": *\[//' -e 's/\]$//' -e 's/", *"/ /g' -e 's/^ *"//' -e 's/" *$//'; }
task_status() { ctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
if ! ctr containers info echo-test >/dev/null 2>&1; then
  echo "There is no container named echo-test yet (the id test is taken by the sleeping one). Create it, then start it attached:"
  ctr images ls -q | grep -qx "$image" || echo "  ctr image pull $image"
  echo "  ctr container create $image echo-test echo foo"
  echo "  ctr task start echo-test"
  exit 1
fi
args=$(args_of echo-test)
if [ "$args" != "echo foo" ]; then
  echo "Container echo-test runs \`$args\`, not \`echo foo\`."
  echo "An id cannot be reused while its container exists: remove it, then create it again:"
  [ "$(task_status echo-test)" = RUNNING ] && echo "  ctr task rm -f echo-test   # its task is running: this kills and removes it"
  echo "  ctr container rm echo-test"
  echo "  ctr container create $image echo-test echo foo"
  echo "  ctr task start echo-test"
  exit 1
fi
# A task left from an earlier start must go before the container can start again.
ctr tasks rm echo-test >/dev/null 2>&1
out=$(ctr tasks start echo-test 2>&1)
echo "ctr task start echo-test printed: $(sed "s|$HOME|~|g" <<<"$out")"
[ "$out" = foo ] || { echo "Expected foo."; exit 1; }
