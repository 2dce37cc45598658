#!/usr/bin/env bash
# make test-deb: install the built package with apt-get on this machine,
# check that nginx loads it through its modules-enabled snippet and accepts
# a configuration with coze_auth directives, then purge it again.
#
#   pkg/test-deb.sh [path/to/libnginx-mod-http-coze-auth_*.deb]
#
# Root only.  The machine is left as it was: the package is purged, and so
# is every package that its installation pulled in; the modules-enabled
# directory is compared before and after.  The system nginx is never
# started; the checks use "nginx -t" (with -c pointing at a temporary
# directory, plus one check of /etc/nginx/nginx.conf when it passed before).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PKG=libnginx-mod-http-coze-auth
NGINX=/usr/sbin/nginx
SNIPPET=/etc/nginx/modules-enabled/50-mod-http-coze-auth.conf

deb=${1:-$(ls -t "$ROOT"/build/deb/${PKG}_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "test-deb: no package; run make deb" >&2; exit 1; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root" >&2; exit 1; }
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed"; then
    echo "test-deb: $PKG is already installed; not touching it" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
W=$(mktemp -d /tmp/coze-test-deb.XXXXXX)
pkgs_before=$W/pkgs.before
dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1=="ii"{print $2}' \
    | sort > "$pkgs_before"
ls -A /etc/nginx/modules-enabled > "$W/enabled.before"
sys_ok=no
$NGINX -t -q 2>/dev/null && sys_ok=yes

fail=0
installed=no
cleanup() {
    set +e
    if [ "$installed" = yes ]; then
        echo "test-deb: purging $PKG"
        apt-get purge -y -qq "$PKG" >"$W/purge.log" 2>&1 \
            || { cat "$W/purge.log"; fail=1; }
        dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' \
            | awk '$1=="ii"{print $2}' | sort > "$W/pkgs.after"
        extra=$(comm -13 "$pkgs_before" "$W/pkgs.after")
        if [ -n "$extra" ]; then
            echo "test-deb: purging what it pulled in:" $extra
            apt-get purge -y -qq $extra >"$W/purge.log" 2>&1 \
                || { cat "$W/purge.log"; fail=1; }
        fi
        ls -A /etc/nginx/modules-enabled > "$W/enabled.after"
        if ! cmp -s "$W/enabled.before" "$W/enabled.after"; then
            echo "test-deb: FAIL /etc/nginx/modules-enabled changed:" >&2
            diff "$W/enabled.before" "$W/enabled.after" >&2
            fail=1
        fi
        if [ -e /usr/share/nginx/modules-available/mod-http-coze-auth.conf ] \
           || [ -e /usr/lib/nginx/modules/ngx_http_coze_auth_module.so ]; then
            echo "test-deb: FAIL files left after purge" >&2
            fail=1
        fi
        if [ "$sys_ok" = yes ] && ! $NGINX -t -q 2>/dev/null; then
            echo "test-deb: FAIL system nginx -t fails after purge" >&2
            fail=1
        fi
    fi
    rm -rf "$W"
    if [ "$fail" = 0 ]; then echo "test-deb: PASS"; else echo "test-deb: FAIL"; fi
    exit "$fail"
}
trap cleanup EXIT
trap 'fail=1; exit 1' INT TERM

check() {   # check "what" command...
    if "${@:2}" >"$W/out" 2>&1; then
        echo "ok - $1"
    else
        echo "not ok - $1"; sed 's/^/    /' "$W/out"; fail=1
    fi
}

echo "test-deb: installing $(basename "$deb")"
installed=yes
if ! apt-get install -y -qq --no-install-recommends "$deb" >"$W/apt.log" 2>&1; then
    cat "$W/apt.log"; fail=1; exit 1
fi

check "package installed" dpkg-query -W -f='${Status}' "$PKG"
check "module file in /usr/lib/nginx/modules" \
    test -f /usr/lib/nginx/modules/ngx_http_coze_auth_module.so
check "modules-enabled snippet links to modules-available" \
    test "$(readlink "$SNIPPET")" = \
         /usr/share/nginx/modules-available/mod-http-coze-auth.conf
check "snippet loads the module" \
    grep -qx 'load_module modules/ngx_http_coze_auth_module.so;' "$SNIPPET"

# a minimal site with the module's directives in a temporary directory
# (nginx's own prefix, so that "modules/" resolves as in production)
P=$W/prefix
mkdir -p "$P/logs"
(umask 077; head -c 32 /dev/urandom > "$P/session.key")
sed 's/__MOCK_PORT__/9/g' "$ROOT/t/data/coze_oauth_config_web.json" \
    > "$P/app.json"
chmod 600 "$P/app.json"
cat > "$P/nginx.conf" <<EOF
include $SNIPPET;
pid $P/nginx.pid;
error_log $P/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    coze_auth_app_config   $P/app.json;
    coze_auth_session_key  $P/session.key;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_cookie       name=coze_session secure=on;
    server {
        listen 127.0.0.1:9;
        location = /oauth/callback { coze_auth_callback; }
        location = /oauth/logout   { coze_auth_logout /; }
        location = /oauth/me       { coze_auth on; coze_auth_userinfo; }
        location / {
            coze_auth on;
            proxy_set_header X-Coze-User \$coze_user_id;
            proxy_pass http://127.0.0.1:9;
        }
    }
}
EOF
check "nginx -t with the snippet and coze_auth directives" \
    $NGINX -t -c "$P/nginx.conf"
if [ "$sys_ok" = yes ]; then
    check "system nginx.conf still passes nginx -t with the module enabled" \
        $NGINX -t -q
fi
# negative control: without the snippet the directives are unknown
sed -i "s#^include $SNIPPET;##" "$P/nginx.conf"
without_snippet() {
    ! $NGINX -t -c "$P/nginx.conf" >"$W/neg" 2>&1 \
        && grep -q 'unknown directive "coze_auth' "$W/neg"
}
check "without the snippet, nginx -t rejects coze_auth directives" \
    without_snippet
