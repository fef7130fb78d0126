#!/usr/bin/env bash
# Docker end-to-end tests: tsinit as the ENTRYPOINT of a real image (Dockerfile.test) in a real engine.
#
#   npm run test:docker            build, then run every scenario (what .ci/run does)
#   bash test/docker/run.sh [RE]   run only the scenarios whose name matches the extended regex RE
#                                  (after `node scripts/build.mjs`)
#
# Steps: use a Docker engine that answers, or install Debian's docker.io and start dockerd (stopped
# again at the end); get the base image node:24-bookworm-slim (the real one if present, else one made
# here with debootstrap and cached under /var/cache, see lib.sh); `npm pack` tsinit into a tarball and
# build Dockerfile.test with --network none; run the scenarios (scenarios.sh); remove the containers,
# the image and the files this run made. Prints one PASS/FAIL line per scenario and 'N passed, N failed'.
# Needs root (installing and running the engine, bind mounts written by containers).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
source test/docker/lib.sh
source test/docker/scenarios.sh

ONLY=${1:-}
IMG="tsinit-test:$RUN_ID"
CONTEXT_DIR="$ROOT/build/docker"   # Dockerfile.test and .dockerignore expect the tarball here
WORK_DIR=$(mktemp -d /tmp/tsinit-docker-test.XXXXXX)
BUILT_IMAGE=""
T0=$(now_ms)

cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=$RUN_ID" 2>/dev/null)
  [[ -n "$ids" ]] && docker rm -f $ids >/dev/null 2>&1
  [[ -n "$BUILT_IMAGE" ]] && docker rmi -f "$IMG" >/dev/null 2>&1
  rm -rf "$WORK_DIR" "$CONTEXT_DIR"
  stop_engine
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || die "run as root (the tests install and start a Docker engine)"
[[ -f dist/tsinit.js ]] || die "dist/tsinit.js is missing: use 'npm run test:docker', which builds first"

secs_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }

t=$(now_ms); ensure_engine; T_ENGINE=$(secs_since "$t")
t=$(now_ms); ensure_base_image; T_BASE=$(secs_since "$t")

# The install path users follow (docs/docker.md): npm pack, then npm install -g of the tarball.
# --ignore-scripts skips the build (done already) and prepack, so the natives are bundled here.
t=$(now_ms)
node scripts/bundle-natives.mjs >"$WORK_DIR/natives.log" 2>&1 \
  || { cat "$WORK_DIR/natives.log" >&2; die "scripts/bundle-natives.mjs failed"; }
rm -rf "$CONTEXT_DIR" && mkdir -p "$CONTEXT_DIR"
npm pack --ignore-scripts --silent --pack-destination "$CONTEXT_DIR" >"$WORK_DIR/pack.log" 2>&1 \
  || { cat "$WORK_DIR/pack.log" >&2; die "npm pack failed"; }
TARBALL_NAME=$(basename "$CONTEXT_DIR"/*.tgz)
TARBALL="$CONTEXT_DIR/tsinit.tgz"
mv "$CONTEXT_DIR/$TARBALL_NAME" "$TARBALL"
say "packed $TARBALL_NAME: $(stat -c %s "$TARBALL") bytes"

say "docker build --network none -f Dockerfile.test -t $IMG ."
if docker build --network none -f Dockerfile.test -t "$IMG" . >"$WORK_DIR/build.log" 2>&1; then
  BUILT_IMAGE=$IMG
else
  tail -30 "$WORK_DIR/build.log" | sed 's/^/     | /'
  echo "FAIL image build (docker build --network none -f Dockerfile.test)"
  echo "0 passed, 1 failed"
  exit 1
fi
T_BUILD=$(secs_since "$t")

# The tarball: self-contained for the runtime (koffi and its native binary), nothing else.
s_tarball() {
  local size list
  size=$(stat -c %s "$TARBALL")
  list=$(tar -tzf "$TARBALL")
  (( size < 5 * 1024 * 1024 )) || fail "the tarball is $size bytes (more than 5 MiB)" || return 1
  local want
  for want in package/dist/tsinit.js package/bin/tsinit package/node_modules/koffi/package.json \
    package/node_modules/commander/package.json package/node_modules/debug/package.json; do
    grep -qx "$want" <<<"$list" || fail "$want is not in the tarball" || return 1
  done
  local arch libc
  for arch in x64 arm64; do
    for libc in linux musl; do
      grep -qx "package/node_modules/@koromix/koffi-linux-$arch/${libc}_$arch/koffi.node" <<<"$list" \
        || fail "koffi's native binary for $libc $arch is not in the tarball" || return 1
    done
  done
  if grep -qE '^package/node_modules/(typescript|esbuild|@esbuild|node-pty|@types)/' <<<"$list"; then
    fail "the tarball carries build-time or optional packages: $(grep -oE '^package/node_modules/[^/]+' <<<"$list" | sort -u | tr '\n' ' ')"
    return 1
  fi
  echo "note: $TARBALL_NAME is $size bytes, $(wc -l <<<"$list") files"
}
SCENARIOS=("npm pack tarball: self-contained, small|s_tarball" "${SCENARIOS[@]}")

t=$(now_ms)
for entry in "${SCENARIOS[@]}"; do
  name=${entry%%|*}
  [[ -z "$ONLY" ]] || grep -qE -- "$ONLY" <<<"$name" || continue
  scenario "$name" "${entry##*|}"
done
T_SCENARIOS=$(secs_since "$t")

say "times: engine $T_ENGINE, base image $T_BASE, pack+build $T_BUILD, scenarios $T_SCENARIOS, total $(secs_since "$T0") (before cleanup)"
(( FAILED == 0 )) || say "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))
