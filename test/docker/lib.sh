# Helpers for test/docker/run.sh: output, bounded waits, expectations, the Docker engine and the base image.
# Sourced, not run. Everything here is bash; the scenarios live in scenarios.sh.

say() { printf '[docker-test] %s\n' "$*" >&2; }
# die MESSAGE: a setup step failed; report it as a failure (with the closing count line) and stop.
die() {
  say "ERROR: $*"
  echo "FAIL setup: $*"
  echo "${PASSED:-0} passed, $(( ${FAILED:-0} + 1 )) failed"
  exit 1
}

# now_ms: wall clock in milliseconds (for reporting durations only, never for pass/fail decisions).
now_ms() { date +%s%3N; }

# wait_until SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds; fail (1) after SECONDS.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(now_ms) + limit * 1000 ))
  until "$@" >/dev/null 2>&1; do
    if (( $(now_ms) > deadline )); then
      echo "timed out after ${limit}s waiting for: $what"
      return 1
    fi
    sleep 0.1
  done
}

# fail MESSAGE: print why a scenario fails and return 1 (use as `... || fail "..."`).
fail() { echo "$*"; return 1; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# expect_status EXPECTED CMD...: run CMD (output kept in $LAST_OUT) and check its exit status.
expect_status() {
  local want=$1; shift
  local got=0
  LAST_OUT=$("$@" 2>&1) || got=$?
  [[ "$got" == "$want" ]] || fail "\`$*\` exited $got, expected $want; output: $(printf '%s' "$LAST_OUT" | tail -5)"
}

# expect_grep PATTERN TEXT WHAT: TEXT must contain a line matching the extended regex PATTERN.
expect_grep() {
  grep -qE -- "$1" <<<"$2" || fail "$3: no line matching /$1/ in: $(printf '%s' "$2" | tail -8)"
}

# ---------------------------------------------------------------------------------------------
# Scenario bookkeeping: each scenario runs in a subshell; its output is shown when it fails (and its
# 'note: ...' lines when it passes).
PASSED=0
FAILED=0
FAILED_NAMES=()

scenario() {
  local name=$1; shift
  local start out rc=0
  start=$(now_ms)
  out=$("$@" 2>&1) || rc=$?
  local took=$(( $(now_ms) - start ))
  if (( rc == 0 )); then
    PASSED=$((PASSED + 1))
    printf 'PASS %-52s (%d.%03ds)\n' "$name" $((took / 1000)) $((took % 1000))
    printf '%s\n' "$out" | sed -n 's/^note: /     note: /p'
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    printf 'FAIL %-52s (%d.%03ds)\n' "$name" $((took / 1000)) $((took % 1000))
    printf '%s\n' "$out" | sed 's/^/     | /'
  fi
}

# ---------------------------------------------------------------------------------------------
# Containers made by this run carry a label, so that cleanup finds them all.
RUN_ID="tsinit-test-$$"

# drun ARGS...: `docker run` with this run's label and no network (the engine here has no bridge).
drun() { docker run --label "$RUN_ID" --network none "$@"; }

# cname NAME: a container name unique to this run.
cname() { echo "$RUN_ID-$1"; }

exit_code_of() { docker inspect -f '{{.State.ExitCode}}' "$1"; }
is_running() { [[ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]]; }
logs_of() { docker logs "$1" 2>&1; }
logs_match() { docker logs "$1" 2>&1 | grep -qE -- "$2"; }

# ---------------------------------------------------------------------------------------------
# The engine: use one that answers; otherwise install Debian's docker.io and start dockerd ourselves.
STARTED_DOCKERD_PID=""

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

ensure_engine() {
  if command -v docker >/dev/null && engine_answers; then
    say "using the running Docker engine"
    return
  fi
  if ! command -v dockerd >/dev/null; then
    say "no Docker engine: installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors; trying the install anyway"
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 docker.io >"$WORK_DIR/apt.log" 2>&1 \
      || { tail -20 "$WORK_DIR/apt.log" >&2; die "apt-get install docker.io failed"; }
  fi
  say "starting dockerd (--iptables=false --bridge=none)"
  DOCKERD_LOG=$(mktemp /tmp/tsinit-dockerd.XXXXXX.log)
  # setsid: the daemon must not get the signals meant for this script's process group.
  setsid dockerd --iptables=false --bridge=none >"$DOCKERD_LOG" 2>&1 </dev/null &
  STARTED_DOCKERD_PID=$!
  wait_until 60 "dockerd to answer" engine_answers >/dev/null || {
    tail -20 "$DOCKERD_LOG" >&2
    die "dockerd did not come up (log: $DOCKERD_LOG)"
  }
}

stop_engine() {
  [[ -n "$STARTED_DOCKERD_PID" ]] || return 0
  say "stopping the dockerd this run started (pid $STARTED_DOCKERD_PID)"
  kill -TERM "$STARTED_DOCKERD_PID" 2>/dev/null || return 0
  local i
  for i in $(seq 150); do kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null; then
    say "dockerd still running after 15 s: SIGKILL"
    kill -KILL "$STARTED_DOCKERD_PID" 2>/dev/null
  fi
  wait "$STARTED_DOCKERD_PID" 2>/dev/null
  rm -f "$DOCKERD_LOG"
}

# ---------------------------------------------------------------------------------------------
# The base image, node:24-bookworm-slim (Node 24, the current LTS). Where the real one exists (pulled
# on a machine with a registry), it is used as it is. Here there is no registry, so one is made: a
# Debian bookworm minbase rootfs (debootstrap from the mirror apt is configured with) plus the
# official Node 24 binary from the npm registry (test/helpers/node-dist.sh, cached) and this machine's
# npm, imported and tagged with the same name, so Dockerfile.test stays unchanged. It is cached as a
# `docker save` tar, keyed by the node version, and loaded from there next time: once both caches
# are there, nothing is downloaded.
BASE_IMAGE=node:24-bookworm-slim
BASE_NODE_MAJOR=24
BASE_CACHE_DIR=${TSINIT_TEST_CACHE:-/var/cache/tsinit-docker-test}
BASE_NODE_BIN=$(bash "$(dirname "${BASH_SOURCE[0]}")/../helpers/node-dist.sh" "$BASE_NODE_MAJOR") \
  || die "cannot get Node $BASE_NODE_MAJOR for the base image (test/helpers/node-dist.sh)"
BASE_NODE_VERSION=$("$BASE_NODE_BIN/node" -p process.version)
BASE_KEY="bookworm-minbase-node-$BASE_NODE_VERSION-$(uname -m)"
BASE_TAR="$BASE_CACHE_DIR/$BASE_KEY.tar"

base_label() { docker image inspect -f '{{index .Config.Labels "tsinit.test-base"}}' "$BASE_IMAGE" 2>/dev/null; }

ensure_base_image() {
  local label
  if label=$(base_label); then
    if [[ -z "$label" ]]; then say "using the existing (real) $BASE_IMAGE"; return; fi
    if [[ "$label" == "$BASE_KEY" ]]; then say "using the local $BASE_IMAGE ($BASE_KEY)"; return; fi
    say "the local $BASE_IMAGE was made for $label, not $BASE_KEY: replacing it"
  fi
  if [[ -f "$BASE_TAR" ]]; then
    say "loading $BASE_IMAGE from $BASE_TAR"
    docker load -i "$BASE_TAR" >/dev/null && [[ "$(base_label)" == "$BASE_KEY" ]] && return
    say "the cached tar is unusable: making the base image again"
    rm -f "$BASE_TAR"
  fi
  make_base_image
}

# debian_mirror: the archive URI apt uses for bookworm/main (nothing is hard-coded here).
debian_mirror() {
  [[ -n "${TSINIT_TEST_DEBIAN_MIRROR:-}" ]] && { echo "$TSINIT_TEST_DEBIAN_MIRROR"; return; }
  local arch uri
  arch=$(dpkg --print-architecture)
  uri=$(apt-cache policy | awk -v a="$arch" '$3 == "bookworm/main" && $4 == a { print $2; exit }')
  if [[ -z "$uri" ]]; then
    apt-get update -qq >/dev/null 2>&1
    uri=$(apt-cache policy | awk -v a="$arch" '$3 == "bookworm/main" && $4 == a { print $2; exit }')
  fi
  [[ -n "$uri" ]] || die "no bookworm/main archive in apt's sources (set TSINIT_TEST_DEBIAN_MIRROR)"
  echo "$uri"
}

make_base_image() {
  local node_bin npm_dir rootfs mirror lib start
  start=$(now_ms)
  node_bin="$BASE_NODE_BIN/node"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")  # .../node_modules/npm
  [[ -f "$npm_dir/package.json" ]] || die "cannot find npm's package directory (got $npm_dir)"
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 debootstrap >"$WORK_DIR/apt.log" 2>&1 \
      || { tail -20 "$WORK_DIR/apt.log" >&2; die "apt-get install debootstrap failed"; }
  }
  mirror=$(debian_mirror)
  rootfs="$WORK_DIR/rootfs"   # removed by run.sh's cleanup, whatever happens
  say "making $BASE_IMAGE: debootstrap --variant=minbase bookworm (about a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; die "debootstrap failed"; }

  # node and npm where the official image has them.
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Any shared library node needs that minbase lacks comes from this machine.
  for lib in $(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    [[ -e "$rootfs$lib" ]] || { say "copying $lib into the base image"; install -D "$lib" "$rootfs$lib"; }
  done
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run in the new rootfs"
  # Smaller image, faster save/load.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*

  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${BASE_NODE_VERSION#v}" \
    --change "LABEL tsinit.test-base=$BASE_KEY" \
    --change 'CMD ["node"]' \
    - "$BASE_IMAGE" >/dev/null || die "docker import failed"
  rm -rf "$rootfs" "$rootfs.log"  # 200 MB: not kept until the end
  mkdir -p "$BASE_CACHE_DIR"
  # older versions of the same major (a base for another major may still be used by another checkout)
  find "$BASE_CACHE_DIR" -maxdepth 1 -name "bookworm-minbase-node-v$BASE_NODE_MAJOR.*-$(uname -m).tar" ! -name "$BASE_KEY.tar" -delete
  docker save -o "$BASE_TAR.tmp" "$BASE_IMAGE" && mv "$BASE_TAR.tmp" "$BASE_TAR"
  say "made $BASE_IMAGE in $(( ($(now_ms) - start) / 1000 ))s, cached as $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
}
