#!/usr/bin/env bash
# Prepares a Debian 12 machine for the backup/restore/purge integration tests:
#   1. installs a Docker engine from Debian (docker.io) when dockerd is absent,
#   2. starts dockerd in the background when `docker info` fails (log: $DOCKERD_LOG),
#   3. builds the two test images locally, because no image registry is reachable:
#        panopticon-test/busybox:1    busybox-static in an otherwise empty rootfs
#        panopticon-test/postgres:15  debootstrap'ed bookworm + postgresql-15
#   4. adds pgvector (built from Debian trixie's source package) and the en_US.utf8 locale
#      to the postgres image, since compose-era data directories need both
# Safe to run again: every step is skipped when its result is already there.
# Runs unattended (CI=true, no stdin); needs root.
set -euo pipefail

BUSYBOX_IMAGE="${PANOPTICON_TEST_BUSYBOX_IMAGE:-panopticon-test/busybox:1}"
POSTGRES_IMAGE="${PANOPTICON_TEST_POSTGRES_IMAGE:-panopticon-test/postgres:15}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/panopticon-dockerd.log}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[docker-setup %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages and starts dockerd)"

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# The Debian mirror this machine already uses (deb822 or one-line format).
debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# ------------------------------------------------------------------ engine
if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
fi
command -v docker >/dev/null 2>&1 || die "docker CLI missing after installing docker.io"

if docker info >/dev/null 2>&1; then
  log "Docker engine already running"
else
  if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
    log "started docker.service"
  else
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    # setsid: dockerd must outlive this script and CI's step shell.
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || {
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within 60 s"
  }
  log "Docker engine is up: $(docker info --format '{{.ServerVersion}} {{.Driver}}')"
fi

WORK=""
ROOTFS=""
cleanup() {
  if [ -n "$ROOTFS" ] && mountpoint -q "$ROOTFS/proc" 2>/dev/null; then umount -l "$ROOTFS/proc" || true; fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
WORK=$(mktemp -d /var/tmp/panopticon-images.XXXXXX)

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ busybox
if have_image "$BUSYBOX_IMAGE"; then
  log "$BUSYBOX_IMAGE exists, not rebuilding"
else
  apt_install busybox-static
  rootfs="$WORK/busybox"
  mkdir -p "$rootfs"/{bin,etc,tmp,data}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  # Only root and nobody exist, so tar never maps uids through names of another image.
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar --numeric-owner -C "$rootfs" -c . |
    docker import \
      --change 'ENV PATH=/bin' \
      --change 'CMD ["sh"]' \
      --message "busybox-static $(dpkg-query -W -f='${Version}' busybox-static) for panopticon tests" \
      - "$BUSYBOX_IMAGE" >/dev/null
  log "built $BUSYBOX_IMAGE"
fi

# ------------------------------------------------------------------ postgres
if have_image "$POSTGRES_IMAGE"; then
  log "$POSTGRES_IMAGE exists, not rebuilding"
else
  apt_install debootstrap ca-certificates
  ROOTFS="$WORK/postgres"
  mirror=$(debian_mirror)
  log "debootstrap bookworm from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
  }
  mount -t proc proc "$ROOTFS/proc"
  printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d" # no service starts in the chroot
  chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
  in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends passwd </dev/null >>"$WORK/chroot.log" 2>&1
  # uid/gid 999 like the official image (and the uid the stack settings expect).
  in_root groupadd --system --gid 999 postgres
  in_root useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres
  in_root apt-get install -y -qq --no-install-recommends postgresql-common </dev/null >>"$WORK/chroot.log" 2>&1
  sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' \
    "$ROOTFS/etc/postgresql-common/createcluster.conf"
  in_root apt-get install -y -qq --no-install-recommends postgresql-15 </dev/null >>"$WORK/chroot.log" 2>&1 || {
    tail -n 30 "$WORK/chroot.log" >&2
    die "installing postgresql-15 in the chroot failed"
  }
  in_root apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS/usr/sbin/policy-rc.d"
  umount -l "$ROOTFS/proc"
  cat >"$ROOTFS/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Minimal stand-in for the official image's entrypoint: initdb on an empty
# $PGDATA (POSTGRES_USER, POSTGRES_DB, optional POSTGRES_PASSWORD), then run
# postgres as uid 999 listening on all addresses.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=""
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    pw=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
  fi
  initdb --username="$user" --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust \
    --auth-host="$([ -n "$pw" ] && echo scram-sha-256 || echo trust)" ${pw:+--pwfile="$pw"} >/dev/null
  [ -z "$pw" ] || rm -f "$pw"
  echo "host all all all $([ -n "${POSTGRES_PASSWORD:-}" ] && echo scram-sha-256 || echo trust)" \
    >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
EOF
  chmod 755 "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  tar --numeric-owner -C "$ROOTFS" -c . |
    docker import \
      --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV PGDATA=/var/lib/postgresql/data' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
      --change 'CMD ["postgres"]' \
      --change 'EXPOSE 5432' \
      --message "bookworm + postgresql-15 for panopticon tests" \
      - "$POSTGRES_IMAGE-imported" >/dev/null
  # `docker import --change` does not accept STOPSIGNAL; a one-line build on the local
  # image adds it (fast shutdown on `docker stop`, as in the official image).
  printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$POSTGRES_IMAGE-imported" |
    DOCKER_BUILDKIT=0 docker build --quiet --tag "$POSTGRES_IMAGE" - >/dev/null
  docker image rm "$POSTGRES_IMAGE-imported" >/dev/null
  log "built $POSTGRES_IMAGE"
fi


# ------------------------------------------------------------------ pgvector + en_US.utf8
# Compose-era clusters were made by postgres:15 + pgvector and initialised with
# lc_collate/lc_ctype en_US.utf8: a test server needs both to open such a data directory
# and to read tables with vector(384) columns. Debian 12 has no pgvector binary, but
# Debian 13's source package builds against bookworm's Postgres 15, so build it here (on
# this bookworm host, the image's own release) and add it as one layer. Skipped when the
# image already has both; an image built before this step (no vector.control) gets it.
image_has() { docker run --rm --entrypoint /bin/sh "$POSTGRES_IMAGE" -c "$1" >/dev/null 2>&1; }
if image_has 'test -f /usr/share/postgresql/15/extension/vector.control && test -d /usr/lib/locale/en_US.utf8'; then
  log "$POSTGRES_IMAGE has pgvector and en_US.utf8, not rebuilding"
else
  apt_install build-essential postgresql-server-dev-15 dpkg-dev
  src="$WORK/pgvector-src"
  mkdir -p "$src/lists/partial"
  # A private sources list and list directory: the host's apt configuration is not changed.
  printf 'deb-src %s trixie main\n' "$(debian_mirror)" >"$src/sources.list"
  apt_src=(-o "Dir::Etc::SourceList=$src/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$src/lists" -o APT::Sandbox::User=root)
  log "fetching Debian trixie's pgvector source package"
  apt-get "${apt_src[@]}" update -qq
  (cd "$src" && apt-get "${apt_src[@]}" source --download-only -qq pgvector)
  orig=$(ls "$src"/pgvector_*.orig.tar.gz | head -n 1)
  [ -f "$orig" ] || die "no pgvector source tarball downloaded"
  mkdir -p "$src/build"
  tar -xzf "$orig" -C "$src/build" --strip-components=1
  log "building $(basename "$orig" .orig.tar.gz) against Postgres 15"
  # with_llvm=no: no JIT bitcode, so clang is not needed.
  make -C "$src/build" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config with_llvm=no \
    >"$WORK/pgvector-build.log" 2>&1 || {
    tail -n 30 "$WORK/pgvector-build.log" >&2
    die "building pgvector failed"
  }
  ctx="$WORK/pgvector-layer"
  mkdir -p "$ctx/lib" "$ctx/extension"
  cp "$src/build/vector.so" "$ctx/lib/"
  cp "$src/build/vector.control" "$src/build"/sql/vector--*.sql "$ctx/extension/"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $POSTGRES_IMAGE
COPY lib/vector.so /usr/lib/postgresql/15/lib/vector.so
COPY extension/ /usr/share/postgresql/15/extension/
RUN chmod 644 /usr/lib/postgresql/15/lib/vector.so /usr/share/postgresql/15/extension/vector* \\
 && localedef -i en_US -f UTF-8 /usr/lib/locale/en_US.utf8
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build --quiet --tag "$POSTGRES_IMAGE" "$ctx" >/dev/null
  image_has 'test -f /usr/share/postgresql/15/extension/vector.control && locale -a | grep -qx en_US.utf8' ||
    die "$POSTGRES_IMAGE still lacks pgvector or en_US.utf8 after the build"
  log "added pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ctx/extension/vector.control") and en_US.utf8 to $POSTGRES_IMAGE"
fi

log "ready: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^panopticon-test/' | tr '\n' ' ')"
