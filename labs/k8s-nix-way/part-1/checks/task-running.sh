# Passes when the task of container `test` is RUNNING.
tasks=$(ctr tasks ls 2>&1)
echo "$tasks"
if ! awk '$1 == "test" && $3 == "RUNNING" { found = 1 } END { exit !found }' <<<"$tasks"; then
  echo "Task test is not RUNNING."
  exit 1
fi
