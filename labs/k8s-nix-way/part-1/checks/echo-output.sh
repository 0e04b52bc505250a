# Passes when container `echo-test` runs `echo foo` and prints foo (the check starts it once).
if ! info=$(ctr containers info echo-test 2>&1); then
  echo "No container named echo-test: $info"
  exit 1
fi
compact=$(tr -d ' \n\t' <<<"$info")
grep -q '"args":\["echo","foo"\]' <<<"$compact" || { echo "Container echo-test does not run \`echo foo\`."; exit 1; }
# A task left from an earlier start must go before the container can start again.
ctr tasks rm echo-test >/dev/null 2>&1
out=$(ctr tasks start echo-test 2>&1)
echo "ctr task start echo-test printed: $out"
[ "$out" = foo ] || { echo "Expected foo."; exit 1; }
