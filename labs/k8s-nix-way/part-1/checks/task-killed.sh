# Passes when the task of `test` is STOPPED (killed, not yet deleted).
# A kill just sent may take a moment to show: look a few times.
for _ in 1 2 3 4 5; do
  tasks=$(ctr tasks ls 2>&1)
  awk '$1 == "test" && $3 == "STOPPED" { found = 1 } END { exit !found }' <<<"$tasks" && { echo "$tasks"; exit 0; }
  sleep 0.1
done
echo "$tasks"
echo "Task test is not STOPPED."
exit 1
