#!/bin/bash
# Smoke container: the mock Coze on 127.0.0.1:$SMOKE_MOCK_PORT (inside the
# container only) and Debian's nginx with the module on port 80.
#
# SMOKE_PUBLIC is the site's address as the browser (the host) sees it,
# e.g. http://127.0.0.1:18099.  Coze's authorize page (the mock's "www"
# role) is reached through the same address: nginx proxies
# /api/permission/oauth2/ to the mock, so only port 80 has to be published.
set -euo pipefail

: "${SMOKE_PUBLIC:?set SMOKE_PUBLIC to the published http://127.0.0.1:PORT}"
MOCK_PORT=${SMOKE_MOCK_PORT:-8090}
RUN=/run/smoke

rm -rf "$RUN"
mkdir -p "$RUN"
umask 077
head -c 32 /dev/urandom > "$RUN/session.key"

COZE_MOCK_REDIRECT_URIS="$SMOKE_PUBLIC/callback" \
    python3 /smoke/t/mock/coze_mock.py --port "$MOCK_PORT" \
        --apps /smoke/t/data/mock_apps.json --portfile "$RUN/mock.port" &
mock=$!
for _ in $(seq 100); do
    [ -s "$RUN/mock.port" ] && break
    kill -0 "$mock" 2>/dev/null || { echo "smoke: mock failed" >&2; exit 1; }
    sleep 0.1
done
[ -s "$RUN/mock.port" ] || { echo "smoke: mock did not start" >&2; exit 1; }

# the downloaded-app config, pointed at the mock
python3 - "$SMOKE_PUBLIC" "http://127.0.0.1:$MOCK_PORT" <<'PY'
import json, sys
app = json.load(open("/smoke/t/data/coze_oauth_config_web.json"))
app["coze_www_base"] = sys.argv[1]
app["coze_api_base"] = sys.argv[2]
json.dump(app, open("/run/smoke/app.json", "w"))
PY

sed "s#@MOCK@#127.0.0.1:$MOCK_PORT#g; s#@RUN@#$RUN#g" /smoke/site.conf.in \
    > /etc/nginx/conf.d/coze-smoke.conf
nginx -t
echo "smoke: nginx on :80, mock on 127.0.0.1:$MOCK_PORT, public $SMOKE_PUBLIC"
exec nginx -g 'daemon off;'
