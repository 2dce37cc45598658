#!/usr/bin/env bash
# make demo: serve http://127.0.0.1:8080 like Coze's OAuth quickstart.
#
# By default the bundled mock Coze server plays Coze (offline).  With
# COZE_OAUTH_CONFIG=/path/to/coze_oauth_config.json the demo talks to the
# real Coze with the app you downloaded from the console; register
# http://127.0.0.1:8080/callback as its redirect URI.  Ctrl-C stops it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${COZE_DEMO_DIR:-$ROOT/build/demo}
MODULE=$ROOT/build/ngx_http_coze_auth_module.so
NGINX=${NGINX:-/usr/sbin/nginx}
MOCK_PORT=${COZE_DEMO_MOCK_PORT:-8090}

rm -rf "$RUN"
mkdir -p "$RUN"
umask 077
head -c 32 /dev/urandom > "$RUN/session.key"

pids=()
cleanup() {
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo stopped"
}
trap cleanup INT TERM EXIT

if [ -n "${COZE_OAUTH_CONFIG:-}" ]; then
    cp "$COZE_OAUTH_CONFIG" "$RUN/app.json"
else
    # the mock Coze: www and api roles on one port
    COZE_MOCK_REDIRECT_URIS=http://127.0.0.1:8080/callback \
        /usr/bin/python3 "$ROOT/t/mock/coze_mock.py" --port "$MOCK_PORT" \
        --apps "$ROOT/t/data/mock_apps.json" --portfile "$RUN/mock.port" \
        >"$RUN/mock.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [ -s "$RUN/mock.port" ] && break
        kill -0 "${pids[0]}" 2>/dev/null || { cat "$RUN/mock.log"; exit 1; }
        sleep 0.1
    done
    [ -s "$RUN/mock.port" ] || { echo "mock Coze did not start" >&2;
                                 cat "$RUN/mock.log" >&2; exit 1; }
    sed "s/__MOCK_PORT__/$MOCK_PORT/g" \
        "$ROOT/t/data/coze_oauth_config_web.json" > "$RUN/app.json"
fi

field() {
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$RUN/app.json" "$1"
}

client_type=$(field client_type)
client_id=$(field client_id)
www_base=$(field coze_www_base)

sed -e "s#@MODULE@#$MODULE#; s#@RUN@#$RUN#g; s#@HTML@#$ROOT/demo/html#" \
    -e "s#@APP_CONFIG@#$RUN/app.json#; s#@CLIENT_TYPE@#${client_type:-web}#" \
    -e "s#@CLIENT_ID@#$client_id#; s#@WWW_BASE@#$www_base#" \
    "$ROOT/demo/nginx.conf.in" > "$RUN/nginx.conf"

"$NGINX" -t -q -p "$RUN" -c "$RUN/nginx.conf"

echo "Coze auth demo on http://127.0.0.1:8080 (${COZE_OAUTH_CONFIG:+real Coze}${COZE_OAUTH_CONFIG:-mock Coze on 127.0.0.1:$MOCK_PORT}); Ctrl-C stops it"
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" &
pids+=($!)
wait "${pids[-1]}"
