#!/usr/bin/env bash
#
# Refresh storm: one session whose access token is inside the refresh
# window, hundreds of concurrent requests carrying its (old) cookie, nginx
# with several workers.  Coze refresh tokens work once, so the module must
# make exactly one token call and every request must succeed with the new
# token.  Prints the number of refresh calls Coze saw and the failures.
#
#   bench/refresh-storm.sh                       # 500 requests, 200 at once
#   REQUESTS=1000 CONCURRENCY=300 WORKERS=4 bench/refresh-storm.sh
#
# Environment: REQUESTS (500, at most 5000), CONCURRENCY (200, at most
# 500), WORKERS (4), PORT (free port), NGINX (/usr/sbin/nginx), MODULE
# (build/ngx_http_coze_auth_module.so; empty when the module is compiled
# into $NGINX), PYTHON (/usr/bin/python3), KEEP=1 keeps the scratch dir.
#
# Everything listens on 127.0.0.1 only: the mock Coze (t/mock/coze_mock.py)
# plays Coze, the protected upstream and the client (its scripted browser
# fires the requests).  Exit status: 0 when calls == 1 and failures == 0.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-500}
CONCURRENCY=${CONCURRENCY:-200}
WORKERS=${WORKERS:-4}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE-$ROOT/build/ngx_http_coze_auth_module.so}
PYTHON=${PYTHON:-/usr/bin/python3}

die() { echo "refresh-storm: $*" >&2; exit 2; }

[[ $REQUESTS =~ ^[0-9]+$ && $REQUESTS -ge 1 && $REQUESTS -le 5000 ]] \
    || die "REQUESTS must be 1..5000"
[[ $CONCURRENCY =~ ^[0-9]+$ && $CONCURRENCY -ge 1 && $CONCURRENCY -le 500 ]] \
    || die "CONCURRENCY must be 1..500"
[[ $WORKERS =~ ^[0-9]+$ && $WORKERS -ge 1 && $WORKERS -le 64 ]] \
    || die "WORKERS must be 1..64"
[[ -x $NGINX ]] || die "no nginx at $NGINX (set NGINX=)"
[[ -z $MODULE || -f $MODULE ]] || die "no module at $MODULE: run 'make'"
command -v curl >/dev/null || die "curl is needed"

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=${PORT:-$(free_port)}
DIR=$(mktemp -d /tmp/refresh-storm.XXXXXX)
mkdir -p "$DIR/logs"
MOCK_PID=
NGINX_STARTED=

cleanup() {
    if [[ -n $NGINX_STARTED && -f $DIR/nginx.pid ]]; then
        "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -s stop 2>/dev/null || true
    fi
    if [[ -n $MOCK_PID ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-} == 1 ]]; then
        echo "scratch dir kept: $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

# the mock Coze, with this nginx's callback registered
COZE_MOCK_REDIRECT_PORTS=$PORT "$PYTHON" -B "$ROOT/t/mock/coze_mock.py" \
    --port 0 --portfile "$DIR/mock.port" \
    --apps "$ROOT/t/data/mock_apps.json" >"$DIR/logs/mock.log" 2>&1 &
MOCK_PID=$!

for _ in $(seq 200); do
    [[ -s $DIR/mock.port ]] && break
    kill -0 "$MOCK_PID" 2>/dev/null || die "the mock did not start: $(tail -5 "$DIR/logs/mock.log")"
    sleep 0.05
done
[[ -s $DIR/mock.port ]] || die "the mock did not start in 10 s"
MOCK=$(cat "$DIR/mock.port")

LOAD=
[[ -n $MODULE ]] && LOAD="load_module $MODULE;"

cat >"$DIR/nginx.conf" <<EOF
$LOAD
worker_processes $WORKERS;
error_log $DIR/logs/error.log warn;
pid $DIR/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/tmp_body;
    proxy_temp_path $DIR/tmp_proxy;
    fastcgi_temp_path $DIR/tmp_fastcgi;
    uwsgi_temp_path $DIR/tmp_uwsgi;
    scgi_temp_path $DIR/tmp_scgi;

    coze_auth_client_type  web;
    coze_auth_client_id    92769033034183945191209058691557.app.coze;
    coze_auth_client_secret_file $ROOT/t/data/web_client_secret.txt;
    coze_auth_api_base     http://127.0.0.1:$MOCK;
    coze_auth_session_key  $ROOT/t/data/session.key;
    coze_auth_redirect_uri /oauth/callback;

    server {
        # reuseport: the kernel spreads the storm over all workers
        listen 127.0.0.1:$PORT reuseport;

        location = /oauth/callback { coze_auth_callback; }

        location / {
            coze_auth on;
            proxy_set_header X-Token \$coze_access_token;
            proxy_pass http://127.0.0.1:$MOCK/__upstream/;
        }
    }
}
EOF

"$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" 2>"$DIR/logs/nginx.stderr" \
    || die "nginx did not start: $(tail -5 "$DIR/logs/nginx.stderr")"
NGINX_STARTED=1

for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.05
done

# Login with 30 s tokens (inside the 60 s refresh window), then hand out
# 15-minute tokens, then the storm with the old cookie on every request.
read -r -d '' SCENARIO <<'EOF' || true
{"timeout": 60, "steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 {"get": "/storm", "expect": {"status": 302}, "save": {"authz": "location"}},
 {"get": "${authz}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"get": "${cb}", "expect": {"status": 302}},
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "storm", "repeat": __N__, "concurrency": __C__,
  "request": {"get": "/storm", "jar": false, "timeout": 30,
              "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200}}
]}
EOF
SCENARIO=${SCENARIO/__N__/$REQUESTS}
SCENARIO=${SCENARIO/__C__/$CONCURRENCY}

echo "refresh storm: $REQUESTS requests, $CONCURRENCY at once, $WORKERS workers"

T0=$(date +%s.%N)
curl -s --max-time 300 -H "X-Browse-Base: http://127.0.0.1:$PORT" \
     -H 'Content-Type: application/json' --data-binary "$SCENARIO" \
     "http://127.0.0.1:$MOCK/__mock/browse" >"$DIR/browse.out" \
    || die "the browser driver did not answer"
T1=$(date +%s.%N)

curl -s "http://127.0.0.1:$MOCK/__mock/counts" >"$DIR/counts.json"

"$PYTHON" - "$DIR/browse.out" "$DIR/counts.json" "$T0" "$T1" <<'EOF'
import json, sys

text = open(sys.argv[1], encoding="utf-8").read()
counts = json.load(open(sys.argv[2]))
head, _, rest = text.partition("\n\n")
try:
    transcript = json.loads(rest)
except ValueError:
    print("cannot read the transcript:\n" + text[:2000])
    sys.exit(2)
steps = transcript["steps"]
storm = next((s for s in steps if s["step"].endswith("(storm)")), None)
setup_fail = [l for l in head.splitlines()[1:] if "(storm)" not in l]
if storm is None or "summary" not in storm or setup_fail:
    print("the login before the storm failed:\n" + head)
    sys.exit(2)
st = storm["summary"]["statuses"]
n = storm["summary"]["count"]
ok = st.get("200", 0)
calls = counts.get("token:refresh_token", 0)
tokens = storm["summary"]["distinct_bodies"]
print("token calls (refresh):   %d   (must be 1)" % calls)
print("failures:                %d   (must be 0)" % (n - ok))
print("responses by status:     %s" % json.dumps(st, sort_keys=True))
print("distinct upstream views: %d   (1: every request saw the same new token)" % tokens)
print("wall time (login+storm): %.2f s" % (float(sys.argv[4]) - float(sys.argv[3])))
sys.exit(0 if calls == 1 and ok == n else 1)
EOF
