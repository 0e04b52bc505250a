# Passes when container `test` exists, from alpine, running `sleep 2000`. When it does
# not, says what to type from where the reader is: an id cannot be reused, so a
# container made with a typo has to go before it can be made again.
image=docker.io/library/alpine:latest
# The command a container runs, as words ("sleep 2000"), from ctr's JSON.
args_of() { ctr containers info "$1" 2>/dev/null | tr -d '\n' | grep -o '"args": *\[[^]]*\]' | head -1 | sed -e 's/^"args": *\[//' -e 's/\]$//' -e 's/", *"/ /g' -e 's/^ *"//' -e 's/" *$//'; }
image_of() { ctr containers info "$1" 2>/dev/null | grep -m1 -o '"Image": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'; }
task_status() { ctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
if ! ctr containers info test >/dev/null 2>&1; then
  echo "There is no container named test yet."
  ctr images ls -q | grep -qx "$image" || echo "Pull its image first: ctr image pull $image"
  echo "Create it: ctr container create $image test sleep 2000"
  exit 1
fi
args=$(args_of test) from=$(image_of test)
if [ "$args" != "sleep 2000" ] || [ "$from" != "$image" ]; then
  [ "$args" = "sleep 2000" ] || echo "Container test runs \`$args\`, not \`sleep 2000\`."
  [ "$from" = "$image" ] || echo "Container test is made from $from, not from $image."
  echo "An id cannot be reused while its container exists: remove it, then create it again:"
  case $(task_status test) in
    RUNNING) echo "  ctr task rm -f test        # its task is running: this kills and removes it" ;;
    PAUSED) echo "  ctr task resume test && ctr task rm -f test" ;;
  esac
  echo "  ctr container rm test"
  ctr images ls -q | grep -qx "$image" || echo "  ctr image pull $image"
  echo "  ctr container create $image test sleep 2000"
  exit 1
fi
ctr containers ls
