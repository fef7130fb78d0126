#!/bin/sh
# Makes N real orphans and exits with CODE at the moment they all exit.
#   orphans.sh N CODE DIR [keep]
# The orphans are `cat FIFO` processes started by an intermediate shell that exits at once, so their
# parent becomes the init. This script holds the FIFO's only write end: when it exits (or, with
# `keep`, when it closes that end and stays alive), every cat reads EOF and exits in the same instant.
# Each wait gives up after 60 s, saying what it waited for and what it saw (exit 98).
n=$1 code=$2 dir=$3 keep=$4
fifo=$dir/trigger
deadline=$(( $(date +%s) + 60 ))
late() { [ "$(date +%s)" -gt "$deadline" ]; }
mkfifo "$fifo" || exit 99
exec 3<>"$fifo"
sh -c "i=0; while [ \$i -lt $n ]; do cat '$fifo' >/dev/null & i=\$((i+1)); done" 3>&-
# Wait until every cat has the FIFO open (one more holder: this shell's fd 3).
while :; do
  open=$(find /proc/[0-9]*/fd -lname "$fifo" 2>/dev/null | wc -l)
  [ "$open" -ge $((n + 1)) ] && break
  if late; then echo "orphans.sh: timed out after 60s waiting for $n cats to open $fifo; $((open - 1)) did" >&2; exit 98; fi
  sleep 0.01
done
echo "orphans ready"
if [ "$keep" = keep ]; then
  exec 3>&-
  echo "orphans released"
  # Stay alive until no zombie is left in this PID namespace, then report.
  while zombies=$(grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null); do
    if late; then echo "orphans.sh: timed out after 60s waiting for no zombie; left: $(echo $zombies | wc -w)" >&2; exit 98; fi
    sleep 0.001
  done
  echo "no zombies"
  exit "$code"
fi
exit "$code"
