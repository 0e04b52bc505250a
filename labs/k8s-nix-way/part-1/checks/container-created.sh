# Passes when container `test` exists, from alpine, running `sleep 2000`.
if ! info=$(ctr containers info test 2>&1); then
  echo "No container named test: $info"
  exit 1
fi
compact=$(tr -d ' \n\t' <<<"$info")
grep -q '"Image":"docker.io/library/alpine:latest"' <<<"$compact" || { echo "Container test is not from docker.io/library/alpine:latest."; exit 1; }
grep -q '"args":\["sleep","2000"\]' <<<"$compact" || { echo "Container test does not run \`sleep 2000\`: $(grep -o '"args":\[[^]]*\]' <<<"$compact")"; exit 1; }
ctr containers ls
