# Helpers for test/portability/run.sh: output, root filesystems made with debootstrap and cached,
# Node copied in. Sourced, not run.

say() { printf '[portability] %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }
secs_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }

CACHE_DIR=${TSINIT_TEST_CACHE_PORTABILITY:-/var/cache/tsinit-portability}
# Bump when what goes into a cached root filesystem changes.
ROOTFS_FORMAT=2

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
    >"$WORK_DIR/apt.log" 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
      >"$WORK_DIR/apt.log" 2>&1
  } || { tail -20 "$WORK_DIR/apt.log" >&2; return 1; }
}

# ensure_tools: the host packages this script uses.
ensure_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v musl-gcc >/dev/null || need+=(musl-tools)
  command -v gcc >/dev/null || need+=(gcc libc6-dev)
  [[ -e /usr/bin/qemu-aarch64-static ]] || need+=(qemu-user-static)
  (( ${#need[@]} == 0 )) && return 0
  say "installing ${need[*]}"
  apt_install "${need[@]}"
}

# debian_mirror: the archive URI apt uses for Debian (nothing hard-coded).
debian_mirror() {
  [[ -n "${TSINIT_TEST_DEBIAN_MIRROR:-}" ]] && { echo "$TSINIT_TEST_DEBIAN_MIRROR"; return; }
  apt-cache policy | awk '$3 ~ /^[a-z]+\/main$/ && $2 ~ /^https?:\/\// && $2 !~ /security/ { print $2; exit }'
}
UBUNTU_MIRROR=${TSINIT_TEST_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}

# ubuntu_keyring: Ubuntu's archive key, for debootstrap to check the Ubuntu archive. This Debian
# does not package it, Debian trixie does (ubuntu-keyring): it is fetched with apt from the Debian
# archive (signature-checked against debian-archive-keyring), never from Ubuntu's own archive.
ubuntu_keyring() {
  local kr="$CACHE_DIR/ubuntu-archive-keyring.gpg"
  [[ -s "$kr" ]] && { echo "$kr"; return 0; }
  [[ -s /usr/share/keyrings/ubuntu-archive-keyring.gpg ]] && { echo /usr/share/keyrings/ubuntu-archive-keyring.gpg; return 0; }
  local d="$WORK_DIR/keyring" mirror
  mirror=$(debian_mirror)
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/x" "$CACHE_DIR"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$d/sources.list"
  local a=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$d/lists"
    -o "Dir::Cache=$d/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${a[@]}" update >"$d/log" 2>&1 && (cd "$d" && apt-get "${a[@]}" download ubuntu-keyring >>"$d/log" 2>&1) \
    && dpkg-deb -x "$d"/ubuntu-keyring_*.deb "$d/x" && cp "$d/x/usr/share/keyrings/ubuntu-archive-keyring.gpg" "$kr" \
    || { tail -5 "$d/log" >&2; return 1; }
  echo "$kr"
}

# ensure_rootfs NAME SUITE ARCH ARCHIVE(debian|ubuntu) [EXTRA_PACKAGES]: prints the path of a tar
# of a minbase root filesystem, made with debootstrap on first use and cached in $CACHE_DIR.
ensure_rootfs() {
  local name=$1 suite=$2 arch=$3 archive=$4 extra=${5:-}
  local tar="$CACHE_DIR/$name-$arch-v$ROOTFS_FORMAT.tar"
  [[ -s "$tar" ]] && { echo "$tar"; return 0; }
  local mirror keyring=() dir="$WORK_DIR/bootstrap-$name-$arch" start
  start=$(now_ms)
  if [[ $archive == ubuntu ]]; then
    mirror=$UBUNTU_MIRROR
    keyring=(--keyring "$(ubuntu_keyring)") || return 1
  else
    mirror=$(debian_mirror)
  fi
  [[ -n "$mirror" ]] || { say "no archive for $archive"; return 1; }
  say "debootstrap --variant=minbase --arch=$arch $suite from $mirror (first run only)"
  mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase --arch="$arch" "${keyring[@]}" ${extra:+--include="$extra"} \
    "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; rm -rf "$dir"; return 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" || return 1
  rm -rf "$dir" "$dir.log"
  say "made $tar in $(secs_since "$start") ($(du -h "$tar" | cut -f1))"
  echo "$tar"
}

# unpack_rootfs TAR DIR: a fresh copy of the cached root filesystem.
unpack_rootfs() {
  rm -rf "$2" && mkdir -p "$2" && tar --numeric-owner -C "$2" -xf "$1"
}

# install_node ROOTFS NODE_BIN: node and npm where the official images have them.
install_node() {
  local rootfs=$1 node_bin=$2 npm_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
}

# in_root ROOTFS CMD...: CMD chrooted in ROOTFS, in private mount and PID namespaces with /proc,
# /dev and /dev/pts, with a plain environment. Everything it mounts and starts goes away with it
# (a shell is PID 1 there and reaps; CMD is its child, so CMD is never PID 1 unless it asks).
in_root() {
  local rootfs=$1; shift
  unshare --mount --pid --fork --kill-child --propagation private -- sh -c '
    r=$1; shift
    # The root must be a mount point, or unshare --mount-proc in there cannot change its propagation.
    mount --bind "$r" "$r" && mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" \
      && mount -t tmpfs tmpfs "$r/run" || exit 90
    chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 TERM=xterm "$@"
    status=$?; exit $status  # not exec: this shell stays PID 1
  ' sh "$rootfs" "$@"
}
