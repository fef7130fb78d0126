# The Docker end-to-end scenarios: each runs real docker commands against the test image ($IMG) and
# checks the result from outside the container. Sourced by run.sh; each function prints why it fails
# and returns 1, and may print 'note: ...' lines that run.sh shows even when it passes.
#
# The image's ENTRYPOINT is ["tsinit", "--"], so `docker run IMG CMD...` runs CMD under tsinit with
# its defaults; tsinit options are given as env twins (-e TSINIT_...) or with --entrypoint tsinit.
# Fixtures (test/docker/fixtures/, on the image's PATH): t-signals, t-ignore-term, t-orphans, t-lines.

CHECK_LINES="node $(dirname "${BASH_SOURCE[0]}")/check-lines.mjs"

# A host directory for a bind mount, removed by run.sh's cleanup.
host_dir() { mktemp -d "$WORK_DIR/mnt.XXXXXX"; }

# start_service NAME DOCKER-RUN-ARGS...: a detached container; waits until it printed 'ready'.
start_service() {
  local c; c=$(cname "$1"); shift
  drun -d --name "$c" "$@" >/dev/null || fail "docker run failed for $c" || return 1
  wait_until 30 "'ready' from $c" logs_match "$c" '^ready$' || { logs_of "$c" | tail -5; return 1; }
  echo "$c"
}

# zombies_of_init CONTAINER: how many zombies whose parent is PID 1 the container has (from /proc).
zombies_of_init() {
  docker exec "$1" sh -c 'cat /proc/[0-9]*/stat 2>/dev/null' | awk '$3 == "Z" && $4 == 1' | wc -l
}
no_zombies_of_init() { local n; n=$(zombies_of_init "$1") && [[ "$n" == 0 ]]; }  # pipefail: exec must work
reaped_count() { docker logs "$1" 2>&1 | grep -c 'reaped orphan pid'; }
reaped_at_least() { (( $(reaped_count "$1") >= $2 )); }
# grown_or_gone PATH BYTES CONTAINER: PATH (a file or a directory) holds more than BYTES, or the
# container is no longer running (so that a wait for a log ends early when the container died).
grown_or_gone() {
  (( $(du -sb "$1" 2>/dev/null | cut -f1) + 0 > $2 )) || ! is_running "$3"
}
# wait_log_grows PATH BYTES CONTAINER: wait until PATH holds more than BYTES; fail if the container ends.
wait_log_grows() {
  wait_until 30 "more than $2 bytes in the log" grown_or_gone "$1" "$2" "$3" || return 1
  is_running "$3" || fail "the container ended before its log reached $2 bytes: $(logs_of "$3" | tail -8)"
}

# ------------------------------------------------------------------------------------------------
# Exit status

s_exit_codes() {
  local n
  for n in 0 1 3 42 255; do
    expect_status "$n" drun --rm "$IMG" sh -c "exit $n" || return 1
  done
}

s_signal_deaths() {
  expect_status 143 drun --rm "$IMG" sh -c 'kill -TERM $$' || return 1
  expect_status 137 drun --rm "$IMG" sh -c 'kill -KILL $$' || return 1
  expect_status 129 drun --rm "$IMG" sh -c 'kill -HUP $$' || return 1
}

s_cannot_run() {
  expect_status 127 drun --rm "$IMG" no-such-command || return 1
  expect_grep '^tsinit: cannot run no-such-command' "$LAST_OUT" "stderr for 127" || return 1
  expect_status 126 drun --rm "$IMG" /etc || return 1
  expect_grep '^tsinit: cannot run /etc' "$LAST_OUT" "stderr for 126" || return 1
}

# docker run -i: the service reads the container's stdin through tsinit (which never reads it).
s_stdin() {
  local got rc=0
  got=$(printf 'hello world\n' | drun -i --rm "$IMG" sh -c 'read a b; echo "$b $a"' 2>&1)
  expect_eq "$got" "world hello" "what the service read on stdin" || return 1
  printf 'exit 5\n' | drun -i --rm "$IMG" sh || rc=$?
  expect_eq "$rc" 5 "exit status of \`echo 'exit 5' | docker run -i IMG sh\`" || return 1
}

# ------------------------------------------------------------------------------------------------
# docker stop

s_stop_handles_term() {
  local c t0 took
  c=$(start_service stop-term "$IMG" t-signals) || { echo "$c"; return 1; }
  t0=$(now_ms)
  docker stop "$c" >/dev/null || fail "docker stop failed" || return 1
  took=$(( $(now_ms) - t0 ))
  # Docker's own SIGKILL (after 10 s) would give 137: 0 proves the service ended through its TERM handler.
  expect_eq "$(exit_code_of "$c")" 0 "exit status after docker stop" || return 1
  expect_grep '^got TERM$' "$(logs_of "$c")" "the service's TERM handler" || return 1
  echo "note: docker stop took ${took} ms"
}

# TSINIT_KILL_AFTER=1s and docker stop -t 30: the container must end through tsinit's SIGKILL, which
# tsinit announces, not through Docker's (which would kill tsinit itself without a word, after 30 s).
s_stop_ignores_term() {
  local c t0 took
  c=$(start_service stop-ignore -e TSINIT_KILL_AFTER=1s -e TSINIT_VERBOSE=1 "$IMG" t-ignore-term) \
    || { echo "$c"; return 1; }
  t0=$(now_ms)
  docker stop -t 30 "$c" >/dev/null || fail "docker stop failed" || return 1
  took=$(( $(now_ms) - t0 ))
  expect_eq "$(exit_code_of "$c")" 137 "exit status" || return 1
  local logs; logs=$(logs_of "$c")
  expect_grep '^tsinit: stopping service .*SIGTERM' "$logs" "tsinit forwarding the stop" || return 1
  expect_grep '^tsinit: .*sending SIGKILL' "$logs" "tsinit's kill-after SIGKILL" || return 1
  expect_grep '^tsinit: exiting with 137' "$logs" "tsinit's own exit" || return 1
  echo "note: docker stop -t 30 took ${took} ms (TSINIT_KILL_AFTER=1s)"
}

# With every default (docker stop's 10 s, tsinit's --kill-after), tsinit's SIGKILL comes first.
s_stop_default_timeouts() {
  local c t0 took
  c=$(start_service stop-default "$IMG" t-ignore-term) || { echo "$c"; return 1; }
  t0=$(now_ms)
  docker stop "$c" >/dev/null || fail "docker stop failed" || return 1
  took=$(( $(now_ms) - t0 ))
  expect_eq "$(exit_code_of "$c")" 137 "exit status" || return 1
  expect_grep '^tsinit: .*sending SIGKILL' "$(logs_of "$c")" "tsinit's SIGKILL before Docker's" || return 1
  echo "note: docker stop (10 s) took ${took} ms with the default --kill-after"
}

# ------------------------------------------------------------------------------------------------
# docker kill -s SIG reaches the service; SIGUSR1 does not open Node's inspector in tsinit.

inspector_listening() {
  # 9229 = 0x240D; state 0A = LISTEN
  docker exec "$1" sh -c 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null' | awk '$2 ~ /:240D$/ && $4 == "0A"' | grep -q .
}

s_docker_kill_signals() {
  local c sig
  c=$(start_service kill-signals "$IMG" t-signals) || { echo "$c"; return 1; }
  for sig in USR1 HUP USR2 WINCH; do
    docker kill -s "$sig" "$c" >/dev/null || fail "docker kill -s $sig failed" || return 1
    wait_until 10 "'got $sig' from the service" logs_match "$c" "^got $sig\$" || { logs_of "$c"; return 1; }
  done
  is_running "$c" || fail "the container stopped after the signals: $(logs_of "$c" | tail -5)" || return 1
  if inspector_listening "$c"; then fail "something listens on port 9229 (Node's inspector) after SIGUSR1"; return 1; fi
  docker stop "$c" >/dev/null
  expect_eq "$(exit_code_of "$c")" 0 "exit status after docker stop" || return 1
}

# ------------------------------------------------------------------------------------------------
# Zombies: orphans reparented to tsinit (PID 1) are reaped, whoever made them.

s_zombies_from_service() {
  local c n=50
  c=$(cname zombies-service)
  drun -d --name "$c" -e TSINIT_WARN_REAPED=1 "$IMG" t-orphans "$n" keep >/dev/null || return 1
  wait_until 20 "$n orphans reaped" reaped_at_least "$c" "$n" || { logs_of "$c" | tail -5; return 1; }
  wait_until 5 "no zombie child of PID 1" no_zombies_of_init "$c" || return 1
  expect_eq "$(reaped_count "$c")" "$n" "orphans reaped" || return 1
  is_running "$c" || fail "the service stopped" || return 1
}

s_zombies_from_exec() {
  local c n=30
  c=$(start_service zombies-exec -e TSINIT_WARN_REAPED=1 "$IMG" t-signals) || { echo "$c"; return 1; }
  docker exec "$c" t-orphans "$n" >/dev/null || fail "docker exec failed" || return 1
  docker exec "$c" sh -c 'sleep 0.2 >/dev/null 2>&1 & exit 0' || fail "docker exec failed" || return 1
  n=$((n + 1))
  wait_until 20 "$n orphans reaped" reaped_at_least "$c" "$n" || { logs_of "$c" | tail -5; return 1; }
  wait_until 5 "no zombie child of PID 1" no_zombies_of_init "$c" || return 1
  expect_eq "$(reaped_count "$c")" "$n" "orphans reaped" || return 1
}

# Not PID 1 (docker run --init puts Docker's tini first, as a pod with shareProcessNamespace puts its
# pause process): tsinit becomes a child subreaper by itself, so the service's orphans still come to it.
s_zombies_not_pid1() {
  local c n=20
  c=$(cname zombies-init)
  drun -d --init --name "$c" -e TSINIT_WARN_REAPED=1 "$IMG" t-orphans "$n" keep >/dev/null || return 1
  wait_until 20 "$n orphans reaped" reaped_at_least "$c" "$n" || { logs_of "$c" | tail -5; return 1; }
  expect_eq "$(reaped_count "$c")" "$n" "orphans reaped by tsinit" || return 1
  local pid1; pid1=$(docker exec "$c" cat /proc/1/cmdline | tr '\0' ' ')
  case ${pid1%% *} in
    node | */node) fail "tsinit is PID 1 ($pid1): --init had no effect"; return 1 ;;
  esac
  echo "note: PID 1 is: $pid1"
}

# ------------------------------------------------------------------------------------------------
# Logs: the tsar story (a logger that needs a moment, a short-lived container) and docker stop under
# heavy logging. Checked on the host, through a bind mount, after the container is gone.

s_tsar_logger() {
  local d; d=$(host_dir)
  expect_status 0 drun --rm -v "$d:/logs" --entrypoint tsinit "$IMG" \
    --logger 'sleep 1; cat > /logs/out' -- seq 20000 || return 1
  $CHECK_LINES "$d/out" --seq 20000 || return 1
}

s_tsar_log_dir() {
  local d; d=$(host_dir)
  expect_status 0 drun --rm -v "$d:/logs" --entrypoint tsinit "$IMG" --log-dir /logs -- seq 20000 || return 1
  $CHECK_LINES "$d" --seq 20000 || return 1
  expect_status 0 drun --rm -v "$d:/logs" --entrypoint tsinit "$IMG" logcheck /logs || return 1
}

s_stop_heavy_logger() {
  local d c; d=$(host_dir); c=$(cname heavy-logger)
  drun -d --name "$c" -v "$d:/logs" --entrypoint tsinit "$IMG" --logger 'cat > /logs/out' -- t-lines \
    >/dev/null || return 1
  wait_log_grows "$d/out" 2000000 "$c" || return 1
  docker stop "$c" >/dev/null || fail "docker stop failed" || return 1
  expect_eq "$(exit_code_of "$c")" 0 "exit status" || { logs_of "$c" | tail -5; return 1; }
  $CHECK_LINES "$d/out" --end | sed 's/^complete/note: complete/'
  return "${PIPESTATUS[0]}"
}

s_stop_heavy_log_dir() {
  local d c; d=$(host_dir); c=$(cname heavy-logdir)
  drun -d --name "$c" -v "$d:/logs" --entrypoint tsinit "$IMG" --log-dir /logs -- t-lines >/dev/null || return 1
  wait_log_grows "$d" 2000000 "$c" || return 1
  docker stop "$c" >/dev/null || fail "docker stop failed" || return 1
  expect_eq "$(exit_code_of "$c")" 0 "exit status" || { logs_of "$c" | tail -5; return 1; }
  $CHECK_LINES "$d" --end | sed 's/^complete/note: complete/'
  [[ "${PIPESTATUS[0]}" == 0 ]] || return 1
  expect_status 0 drun --rm -v "$d:/logs" --entrypoint tsinit "$IMG" logcheck /logs || return 1
}

# ------------------------------------------------------------------------------------------------
# Env twins: tsinit configured with `docker run -e TSINIT_...` and the image's plain ENTRYPOINT.

s_env_twins() {
  expect_status 0 drun --rm -e TSINIT_VERBOSE=1 "$IMG" true || return 1
  expect_grep '^tsinit: service started' "$LAST_OUT" "TSINIT_VERBOSE=1" || return 1
  expect_status 0 drun --rm -e TSINIT_VERBOSE=0 "$IMG" true || return 1
  if grep -q '^tsinit:' <<<"$LAST_OUT"; then fail "TSINIT_VERBOSE=0 still printed: $LAST_OUT"; return 1; fi
  expect_status 0 drun --rm -e TSINIT_REMAP_EXIT=143 "$IMG" sh -c 'kill -TERM $$' || return 1
  expect_status 125 drun --rm -e TSINIT_KILL_AFTER=soon "$IMG" true || return 1
  expect_grep '^tsinit: .*\(see tsinit --help\)$' "$LAST_OUT" "the usage error line" || return 1
  local n; n=$(grep -c . <<<"$LAST_OUT")
  expect_eq "$n" 1 "lines printed for a bad TSINIT_KILL_AFTER" || return 1
  expect_status 0 drun --rm -e TSINIT_USER=nobody "$IMG" sh -c 'echo "$(id -u):$(id -g)"' || return 1
  expect_eq "$LAST_OUT" "65534:65534" "the service's ids with TSINIT_USER=nobody" || return 1
}

s_env_logger() {
  local d; d=$(host_dir)
  expect_status 0 drun --rm -v "$d:/logs" -e TSINIT_LOGGER='sleep 1; cat > /logs/out' "$IMG" ls -la /usr/bin \
    || return 1
  local want; want=$(drun --rm --entrypoint ls "$IMG" -la /usr/bin)
  expect_eq "$(cat "$d/out")" "$want" "the logged output of ls -la /usr/bin" || return 1
}

s_env_log_dir() {
  local d; d=$(host_dir)
  expect_status 0 drun --rm -v "$d:/logs" -e TSINIT_LOG_DIR=/logs "$IMG" seq 1000 || return 1
  $CHECK_LINES "$d" --seq 1000 || return 1
}

# ------------------------------------------------------------------------------------------------
# Logs where users look, health and control: docker logs beside --log-dir, HEALTHCHECK with
# tsinit health, tsinit ctl through docker exec.

health_is() { [[ "$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" == "$2" ]]; }
health_log() { docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$1"; }
ready_count() { docker logs "$1" 2>&1 | grep -c '^ready$'; }
ready_at_least() { (( $(ready_count "$1") >= $2 )); }
json_field() { grep -oE "\"$2\":[0-9a-z\"]+" <<<"$1" | head -1 | cut -d: -f2; }

# docker logs shows every line while --log-dir holds them all (logcheck complete); then the same
# under docker stop while the service writes as fast as it can.
s_docker_logs_log_dir() {
  local d c; d=$(host_dir); c=$(cname logs-stdout)
  drun --name "$c" -v "$d:/logs" --entrypoint tsinit "$IMG" --log-dir /logs --log-stdout -- seq 20000 >/dev/null 2>&1
  expect_eq "$(exit_code_of "$c")" 0 "exit status" || { logs_of "$c" | tail -5; return 1; }
  docker logs "$c" 2>/dev/null >"$d.stdout" || fail "docker logs failed" || return 1
  $CHECK_LINES "$d.stdout" --seq 20000 | sed 's/^/note: docker logs: /' || return 1
  $CHECK_LINES "$d" --seq 20000 || return 1
  expect_status 0 drun --rm -v "$d:/logs" --entrypoint tsinit "$IMG" logcheck /logs || return 1
  expect_grep '^complete' "$LAST_OUT" "logcheck" || return 1

  local d2 c2; d2=$(host_dir); c2=$(cname logs-stdout-heavy)
  drun -d --name "$c2" -v "$d2:/logs" -e TSINIT_LOG_DIR=/logs -e TSINIT_LOG_STDOUT=raw "$IMG" t-lines >/dev/null || return 1
  wait_log_grows "$d2" 2000000 "$c2" || return 1
  docker stop "$c2" >/dev/null || fail "docker stop failed" || return 1
  expect_eq "$(exit_code_of "$c2")" 0 "exit status after docker stop" || { logs_of "$c2" | tail -5; return 1; }
  $CHECK_LINES "$d2" --end | sed 's/^complete/note: files complete/'
  [[ "${PIPESTATUS[0]}" == 0 ]] || return 1
  expect_status 0 drun --rm -v "$d2:/logs" --entrypoint tsinit "$IMG" logcheck /logs || return 1
  local shown missed
  shown=$(docker logs "$c2" 2>/dev/null | grep -cE '^[0-9]+$')
  missed=$(docker logs "$c2" 2>&1 | grep -oE 'missed [0-9]+ lines' || echo 'missed 0 lines')
  echo "note: docker logs showed $shown numbered lines ($missed)"
  (( shown > 0 )) || fail "docker logs showed none of the lines" || return 1
}

# HEALTHCHECK CMD ["tsinit", "health"]: healthy, unhealthy while the probe fails, healthy again after
# the watchdog's restart, as docker inspect shows.
s_healthcheck() {
  local img="$IMG-health" c rc=0
  c=$(cname healthcheck)
  printf 'FROM %s\nHEALTHCHECK --interval=500ms --timeout=5s --retries=1 CMD ["tsinit", "health"]\n' "$IMG" \
    | docker build --network none -q -t "$img" - >/dev/null || fail "docker build of the HEALTHCHECK image failed" || return 1
  healthcheck_steps "$img" "$c" || rc=1
  docker rm -f "$c" >/dev/null 2>&1
  docker rmi -f "$img" >/dev/null 2>&1
  return $rc
}

healthcheck_steps() {
  local img=$1 c=$2 js
  drun -d --name "$c" -e TSINIT_HEALTH_CMD='test -e /tmp/ok' -e TSINIT_HEALTH_INTERVAL=300ms \
    -e TSINIT_HEALTH_FAILURES=20 -e TSINIT_RESTART=on-failure -e TSINIT_VERBOSE=1 \
    "$img" sh -c 'touch /tmp/ok; echo ready; exec sleep 100000' >/dev/null || fail "docker run failed" || return 1
  wait_until 30 "docker inspect: healthy" health_is "$c" healthy || { health_log "$c"; logs_of "$c" | tail -5; return 1; }
  expect_grep '^0 healthy: running \(pid [0-9]+, up [0-9]+s, ready, health-cmd passing\)' "$(health_log "$c")" "the health log" || return 1
  docker exec "$c" rm /tmp/ok || fail "docker exec rm failed" || return 1
  wait_until 30 "docker inspect: unhealthy" health_is "$c" unhealthy || { health_log "$c"; logs_of "$c" | tail -5; return 1; }
  expect_grep '1 unhealthy: health-cmd probe failing \([0-9]+/20\)' "$(health_log "$c")" "the health log" || return 1
  wait_until 30 "docker inspect: healthy after the restart" health_is "$c" healthy || { health_log "$c"; logs_of "$c" | tail -8; return 1; }
  js=$(docker exec "$c" tsinit status --json) || fail "tsinit status --json failed: $js" || return 1
  expect_eq "$(json_field "$js" restarts)" 1 "restarts in tsinit status" || return 1
  expect_eq "$(json_field "$js" kills)" 1 "watchdog kills in tsinit status" || return 1
  expect_eq "$(ready_count "$c")" 2 "incarnations that printed ready" || return 1
}

# tsinit ctl through docker exec: restart (through the stop sequence), signal, and status.
s_ctl_restart() {
  local c out js
  c=$(start_service ctl-restart -e TSINIT_VERBOSE=1 "$IMG" t-signals) || { echo "$c"; return 1; }
  out=$(docker exec "$c" tsinit ctl restart 2>&1) || fail "tsinit ctl restart failed: $out" || return 1
  expect_grep '^restarting service \(pid [0-9]+\) as asked; sending SIGTERM$' "$out" "ctl restart's line" || return 1
  wait_until 20 "a second 'ready'" ready_at_least "$c" 2 || { logs_of "$c" | tail -8; return 1; }
  expect_grep '^got TERM$' "$(logs_of "$c")" "the stop signal reached the service" || return 1
  js=$(docker exec "$c" tsinit status --json) || fail "tsinit status failed" || return 1
  expect_eq "$(json_field "$js" restarts)" 1 "restarts" || return 1
  out=$(docker exec "$c" tsinit ctl signal USR1 2>&1) || fail "tsinit ctl signal failed: $out" || return 1
  expect_grep '^forwarded SIGUSR1 to process group [0-9]+$' "$out" "ctl signal's line" || return 1
  wait_until 10 "'got USR1'" logs_match "$c" '^got USR1$' || return 1
  out=$(docker exec "$c" tsinit status) || fail "tsinit status failed" || return 1
  expect_grep '^service +running \(pid [0-9]+, up [0-9]+s\), restarts 1, last exit code 0' "$out" "tsinit status" || return 1
  expect_status 0 docker exec "$c" tsinit health || return 1
  docker stop "$c" >/dev/null || fail "docker stop failed" || return 1
  expect_eq "$(exit_code_of "$c")" 0 "exit status after docker stop" || return 1
  expect_grep 'control: restart from pid [0-9]+ \(uid 0\)' "$(logs_of "$c")" "the -v line of the restart" || return 1
}

# name | function. The order is the order of the report.
SCENARIOS=(
  "exit codes 0 1 3 42 255 pass through|s_exit_codes"
  "signal deaths: TERM 143, KILL 137, HUP 129|s_signal_deaths"
  "command not found 127, not executable 126|s_cannot_run"
  "docker run -i: stdin reaches the service|s_stdin"
  "docker stop, service handles TERM: exit 0|s_stop_handles_term"
  "docker stop -t 30, TERM ignored: tsinit kills, 137|s_stop_ignores_term"
  "docker stop, TERM ignored, defaults: tsinit first|s_stop_default_timeouts"
  "docker kill -s USR1/HUP/USR2/WINCH reach service|s_docker_kill_signals"
  "zombies: orphans of the service reaped|s_zombies_from_service"
  "zombies: orphans of docker exec reaped|s_zombies_from_exec"
  "not PID 1 (docker run --init): tsinit still reaps|s_zombies_not_pid1"
  "tsar: --logger 'sleep 1; cat > F', every line|s_tsar_logger"
  "tsar: --log-dir on a bind mount, every line|s_tsar_log_dir"
  "docker stop under heavy logging, --logger: no loss|s_stop_heavy_logger"
  "docker stop under heavy logging, --log-dir: no loss|s_stop_heavy_log_dir"
  "env twins: VERBOSE, REMAP_EXIT, USER, bad value 125|s_env_twins"
  "env twin TSINIT_LOGGER with the plain ENTRYPOINT|s_env_logger"
  "env twin TSINIT_LOG_DIR with the plain ENTRYPOINT|s_env_log_dir"
  "docker logs + --log-dir --log-stdout: both complete|s_docker_logs_log_dir"
  "HEALTHCHECK tsinit health: healthy, unhealthy, healthy|s_healthcheck"
  "docker exec tsinit ctl restart, signal, status|s_ctl_restart"
)
