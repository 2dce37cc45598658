#!/usr/bin/env bash
# make image / make test-image: build the Dockerfile with podman, without a
# registry (the recipe in docs/deployment.md, "Building without a registry").
#
#   pkg/image.sh build   build the image and save it to
#                        build/image/nginx-coze-auth.tar (docker-archive:
#                        "podman load -i" or "docker load -i")
#   pkg/image.sh test    build it and smoke-test a login against the mock
#                        Coze inside the container
#
# Root, Debian 12.  podman (with runc), slirp4netns and debootstrap are
# installed with apt-get when missing.  All podman state (config, storage,
# run and tmp directories) lives in a temporary directory that is reset and
# removed on exit.  The base image is made with debootstrap from the apt
# mirror and imported as localhost/debian:$SUITE-slim; the build reaches
# the mirror with --network host; containers run with --network none or
# slirp4netns, publishing only on 127.0.0.1.
#
# Environment: SUITE (bookworm), IMAGE_OUT (build/image/nginx-coze-auth.tar),
# SMOKE_PORT (a free port in 18000-18999), KEEP_LOGS=1 (on failure, copy the
# container log to build/image/).
set -euo pipefail

MODE=${1:-}
case "$MODE" in build|test) ;; *) echo "usage: $0 build|test" >&2; exit 2;; esac
[ "$(id -u)" = 0 ] || { echo "image: must run as root (podman, debootstrap)" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-bookworm}
BASE_IMG=localhost/debian:$SUITE-slim
IMG=localhost/nginx-coze-auth:ci
SMOKE_IMG=localhost/nginx-coze-auth-smoke:ci
IMAGE_OUT=${IMAGE_OUT:-$ROOT/build/image/nginx-coze-auth.tar}
T0=$SECONDS
phase_start=$SECONDS
phase() {   # phase "name": report the time of the previous phase
    local now=$SECONDS
    [ -n "${phase_name:-}" ] && printf 'image: %-28s %4ss\n' "$phase_name" \
        "$((now - phase_start))"
    phase_name=$1; phase_start=$now
    [ -n "$1" ] && echo "image: -- $1"
    return 0
}

W=$(mktemp -d /var/tmp/coze-image.XXXXXX)
# podman keeps a blob-info cache in /var/lib/containers/cache whatever the
# storage configuration: remove it afterwards unless it was there before
VLC=/var/lib/containers
vlc_before=$( [ -e $VLC ] && echo dir; [ -e $VLC/cache ] && echo cache; true)
export CONTAINERS_STORAGE_CONF=$W/storage.conf CONTAINERS_CONF=$W/containers.conf
status=1
cleanup() {
    set +e
    if [ -f "$W/containers.conf" ] && command -v podman >/dev/null; then
        if [ "$status" != 0 ] && podman container exists coze-smoke 2>/dev/null; then
            echo "image: container log (tail):"
            podman logs coze-smoke 2>&1 | tail -40
        fi
        podman rm -af -t 0 >/dev/null 2>&1
        podman system reset -f >/dev/null 2>&1
    fi
    rm -rf "$W"
    case "$vlc_before" in
        *cache*) ;;
        dir) rm -rf $VLC/cache ;;
        *) rm -rf $VLC ;;
    esac
    phase ""
    if [ "$status" = 0 ]; then
        echo "image: $MODE OK in $((SECONDS - T0))s"
    else
        echo "image: $MODE FAILED after $((SECONDS - T0))s" >&2
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------------------
phase "tools (apt)"
missing=""
for p in podman runc slirp4netns debootstrap curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "image: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# private podman configuration: runc (crun fails on the hybrid cgroups
# here), explicit ulimits (no CAP_SYS_RESOURCE), no bridge network, all
# state under $W
NOFILE=$(ulimit -Hn); NPROC=$(ulimit -Hu)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
if [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; then NPROC=32768; fi
cat > "$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/storage"
runroot = "$W/run"
EOF
cat > "$W/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
tmp_dir = "$W/tmp"
[network]
network_config_dir = "$W/net"
EOF

# ---------------------------------------------------------------------------
phase "base image (debootstrap)"
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources \
         2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
debootstrap --variant=minbase "$SUITE" "$W/rootfs" "$MIRROR" \
    >"$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log"; exit 1; }
# the host's apt sources (binary only; security updates included), like
# the apt configuration of the official debian images
rm -f "$W/rootfs/etc/apt/sources.list"
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    for f in /etc/apt/sources.list.d/*.sources; do cat "$f"; echo; done | awk '
        BEGIN { RS = ""; ORS = "\n\n" }
        {
            gsub(/(^|\n)Types:[^\n]*/, "\nTypes: deb")
            sub(/^\n/, "")
            if (!/Types: deb/ || seen[$0]++) next
            print
        }' > "$W/rootfs/etc/apt/sources.list.d/debian.sources"
else
    echo "deb $MIRROR $SUITE main" > "$W/rootfs/etc/apt/sources.list"
fi
# "slim" like debian:*-slim: no documentation, manual pages or locales
cat > "$W/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
find "$W/rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
rm -rf "$W"/rootfs/usr/share/{man,groff,info,lintian,linda,locale}/* \
       "$W"/rootfs/var/cache/apt/archives/*.deb "$W"/rootfs/var/cache/apt/*.bin \
       "$W"/rootfs/var/lib/apt/lists/*
tar -C "$W/rootfs" -c . \
    | podman import -q --change 'CMD ["bash"]' - "$BASE_IMG" >/dev/null
rm -rf "$W/rootfs"

# ---------------------------------------------------------------------------
phase "image build (Dockerfile)"
podman build --network host --pull=never --build-arg BASE="$BASE_IMG" \
    -t "$IMG" -f "$ROOT/Dockerfile" "$ROOT" >"$W/build.log" 2>&1 \
    || { tail -40 "$W/build.log"; exit 1; }
podman images --format 'image: {{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' \
    "$IMG"

phase "nginx -t in the image"
podman run --rm --network none "$IMG" nginx -t 2>&1 | sed 's/^/  /'
podman run --rm --network none "$IMG" \
    test -L /etc/nginx/modules-enabled/50-mod-http-coze-auth.conf

if [ "$MODE" = build ]; then
    phase "save"
    mkdir -p "$(dirname "$IMAGE_OUT")"
    rm -f "$IMAGE_OUT"
    podman tag "$IMG" localhost/nginx-coze-auth:latest
    podman save -q --format docker-archive -o "$IMAGE_OUT" \
        localhost/nginx-coze-auth:latest
    echo "image: saved ${IMAGE_OUT#$ROOT/} ($(du -h "$IMAGE_OUT" | cut -f1));" \
         "load it with: podman load -i ${IMAGE_OUT#$ROOT/}"
    status=0
    exit 0
fi

# ---------------------------------------------------------------------------
phase "smoke image (mock Coze)"
S=$W/smoke-ctx
mkdir -p "$S/t"
cp -r "$ROOT/t/mock" "$ROOT/t/data" "$S/t/"
find "$S/t" -name __pycache__ -prune -exec rm -rf {} +
cp "$ROOT"/pkg/smoke/{Containerfile,entrypoint.sh,site.conf.in} "$S/"
podman build --network host --pull=never --build-arg IMAGE="$IMG" \
    -t "$SMOKE_IMG" -f "$S/Containerfile" "$S" >"$W/smoke-build.log" 2>&1 \
    || { tail -40 "$W/smoke-build.log"; exit 1; }

phase "smoke test (login)"
port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }
PORT=${SMOKE_PORT:-}
if [ -z "$PORT" ]; then
    for _ in $(seq 50); do
        p=$((18000 + RANDOM % 1000))
        if port_free "$p"; then PORT=$p; break; fi
    done
fi
[ -n "$PORT" ] || { echo "image: no free port" >&2; exit 1; }
PUB=http://127.0.0.1:$PORT

podman run -d --name coze-smoke \
    --network slirp4netns:port_handler=slirp4netns \
    -p "127.0.0.1:$PORT:80" -e SMOKE_PUBLIC="$PUB" "$SMOKE_IMG" >/dev/null

JAR=$W/cookies
fails=0
req() {   # req METHOD URL: sets CODE and LOC, body in $W/body
    local out
    out=$(curl -sS --max-time 10 -X "$1" -b "$JAR" -c "$JAR" -o "$W/body" \
          -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' \
          -w '%{http_code} %{redirect_url}' "$2") || out="000 "
    CODE=${out%% *}; LOC=${out#* }
}
ok() {    # ok "description" test...
    if "${@:2}"; then echo "ok - $1"
    else echo "not ok - $1 (status $CODE, location '$LOC')"
         head -c 400 "$W/body" 2>/dev/null | sed 's/^/    /'; echo
         fails=$((fails + 1)); fi
}

up=
for _ in $(seq 100); do
    req GET "$PUB/me" 2>/dev/null
    [ "$CODE" = 401 ] && { up=1; break; }
    podman container exists coze-smoke && \
        [ "$(podman inspect -f '{{.State.Running}}' coze-smoke)" = true ] || break
    sleep 0.2
done
[ -n "$up" ] || { echo "image: the container did not come up"; exit 1; }
echo "ok - container up, /me without a session is 401"

req GET "$PUB/hello?x=1"
ok "protected URL redirects to Coze's authorize page" \
    eval '[ "$CODE" = 302 ] && [[ "$LOC" == "$PUB/api/permission/oauth2/authorize?"* ]]'

req GET "$LOC"
ok "authorize (mock) redirects back to the callback with a code" \
    eval '[ "$CODE" = 302 ] && [[ "$LOC" == "$PUB/callback?code="* ]]'

req GET "$LOC"
ok "callback sets the session and returns to the page" \
    eval '[ "$CODE" = 302 ] && [[ "$LOC" == *"/hello?x=1" ]] &&
          awk '\''$6 == "coze_session"'\'' "$JAR" | grep -q .'

req GET "$PUB/hello?x=1"
ok "the page is served with the user's token upstream" \
    eval '[ "$CODE" = 200 ] && grep -qi "bearer czu_" "$W/body" &&
          grep -qi "x-coze-user" "$W/body"'

req GET "$PUB/me"
ok "/me shows the signed-in user" \
    eval '[ "$CODE" = 200 ] && grep -q "\"authenticated\":true" "$W/body" &&
          grep -q "\"user_id\":\"[0-9]" "$W/body"'

req POST "$PUB/me"
ok "POST /me refreshes the token" \
    eval '[ "$CODE" = 200 ] && grep -q "\"authenticated\":true" "$W/body"'

req GET "$PUB/logout"
ok "logout redirects" eval '[ "$CODE" = 302 ]'
req GET "$PUB/me"
ok "after logout /me is 401" eval '[ "$CODE" = 401 ]'

podman rm -f -t 2 coze-smoke >/dev/null
[ "$fails" = 0 ] || { echo "image: $fails smoke check(s) failed" >&2; exit 1; }

status=0
