# Token refresh (issue 5): refresh ahead of expiry, single flight across
# workers, the shared result window for late requests with the old cookie,
# and the failure policy (dead refresh token, timeout, 5xx, malformed JSON).
#
# The mock issues short-lived access tokens ("access_ttl"), so a fresh
# session is already inside coze_auth_refresh_ahead (60s by default).  The
# login is driven step by step (LOGIN below) so that the callback's redirect
# is not followed: the first protected request after it is the one that
# must refresh.  Counts come from the mock's request log.

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();
log_level('warn');
master_on();
workers(2);
worker_connections(1024);

# LOGIN: a full login that stops at the callback's answer; then t0/rt0 hold
# the access and refresh token Coze issued (the mock's secrets, in order)
# and jar "old" a copy of the session cookie as it was after the login.
my $Login = <<'_EOS_';
 {"label": "protected", "get": "/app/page", "expect": {"status": 302},
  "save": {"authz": "location"}},
 {"label": "authorize", "get": "${authz}", "expect": {"status": 302},
  "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 302, "location_re": "/app/page$",
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "issued", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 1}, "refresh_tokens": {"len": 1}}},
  "save": {"t0": "json.access_tokens.0", "rt0": "json.refresh_tokens.0"}},
 {"cookie": {"jar": "old", "name": "coze_session", "copy_from_jar": "main"}},
_EOS_
chomp $Login;

my $Protected = <<'_EOC_';
        proxy_set_header X-Token $coze_access_token;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", coze_http('web'))
        unless defined $block->http_config;
    $block->set_value("config", coze_server(protected => $Protected))
        unless defined $block->config;
    if (defined $block->scenario) {
        (my $s = $block->scenario) =~ s/^\s*LOGIN,?\s*$/$Login/m;
        $block->set_value("request", "POST /t\n$s");
    }
    scenario_defaults($block, 30);
});

run_tests();

__DATA__

=== TEST 1: a token inside the refresh window is refreshed once; upstream gets the new token, the browser the new cookie
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"label": "refresh", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-coze-result": "refreshed",
                      "headers.x-token": {"re": "^czu_", "ne": "${t0}"},
                      "headers.cookie": {"exists": false}},
             "set_cookie": {"coze_session": {"present": true, "deleted": false,
                                             "attrs_re": "HttpOnly"}},
             "requests": {"token:refresh_token": 1, "token:refresh_token:200": 1}},
  "save": {"t1": "json.headers.x-token"}},
 {"label": "rotated", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 2}, "access_tokens.1": "${t1}"}}},
 {"label": "new cookie", "get": "/app/other",
  "expect": {"status": 200,
             "json": {"headers.x-coze-result": "ok",
                      "headers.authorization": "Bearer ${t1}"},
             "requests": {"token:refresh_token": 1}}}
]}



=== TEST 2: the new cookie rides on whatever the response is (here an upstream 404)
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"label": "refresh, upstream 404", "get": "/app/missing?__status=404",
  "expect": {"status": 404,
             "json": {"headers.x-coze-result": "refreshed",
                      "headers.x-token": {"ne": "${t0}"}},
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:refresh_token:200": 1}}},
 {"label": "cookie carries the new token", "get": "/app/next",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${last.json.headers.x-token}"}}}
]}



=== TEST 3: 2 workers, 50 concurrent requests with the same old cookie: all get the new token, Coze sees ONE refresh
The storm goes to a second server whose listen socket has "reuseport": the
kernel spreads the connections over both workers' sockets (on the shared
socket one busy worker may accept them all), and X-Worker shows that both
took part.
--- http_config eval
CozeConf::coze_http('web') . "
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 reuseport;
" . CozeConf::coze_server(protected => '        add_header X-Worker $pid always;
        proxy_set_header X-Token $coze_access_token;') . "
    }
"
--- config eval
CozeConf::coze_server(protected => '        proxy_set_header X-Token $coze_access_token;') . '
    location = /storm-base {
        return 200 "http://127.0.0.1:$TEST_NGINX_RAND_PORT_1";
    }

    location = /status {
        coze_auth_status;
    }
'
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"get": "/storm-base", "expect": {"status": 200}, "save": {"storm": "body"}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "storm", "repeat": 50, "concurrency": 50,
  "request": {"get": "${storm}/app/storm", "jar": false,
              "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200,
                 "json": {"headers.x-coze-result": "refreshed",
                          "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
                 "set_cookie": {"coze_session": {"present": true, "deleted": false}},
                 "distinct_bodies_max": 1,
                 "distinct_headers_min": {"X-Worker": 2},
                 "requests": {"token:refresh_token": 1}}},
 {"label": "one new token", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 2},
                      "access_tokens.1": "${last.json.headers.x-token}"}}},
 {"label": "nginx counted 1 refresh, 49 coalesced", "get": "/status",
  "expect": {"status": 200,
             "json": {"refreshes": 1, "refreshes_coalesced": 49}}}
]}



=== TEST 4: the old cookie inside the result window gets the new tokens; after it the session ends cleanly
--- http_config eval
CozeConf::coze_http('web', extra => "    coze_auth_refresh_result_ttl 1s;\n")
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "refresh", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "refreshed"}},
  "save": {"t1": "json.headers.x-token"}},
 {"label": "old cookie, in the window", "get": "/app/replay", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t1}",
                      "headers.x-coze-result": "refreshed"},
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:refresh_token": 1}}},
 {"comment": "The window (coze_auth_refresh_result_ttl 1s) is a record in nginx's shared zone, counted in whole seconds of nginx's clock; nothing outside nginx can observe it ending, so the only way past it is to let 1.2 s pass.",
  "sleep": 1.2},
 {"label": "old cookie, after the window: login", "get": "/app/replay", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 302,
             "location_re": "/api/permission/oauth2/authorize\\?",
             "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"token:refresh_token": 2, "token:refresh_token:400": 1}}},
 {"label": "old cookie again, API call: 401, no new call", "get": "/api/x", "jar": false,
  "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"},
             "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"token:refresh_token": 2}}},
 {"label": "the new cookie still works", "get": "/app/still",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t1}", "headers.x-coze-result": "ok"},
             "requests": {"token:refresh_token": 2}}}
]}
--- error_log eval
qr/refresh refused, the session ends: HTTP 400, Coze error "invalid_request" "invalid request: refresh_token", logid "\d{14}[0-9A-F]{20}"/



=== TEST 5: dead refresh token (invalid_grant): the session ends, login redirect or 401, logged with the logid
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"expire": {"refresh_token": "${rt0}"},
           "config": {"refresh_error": {"status": 400, "error_code": "invalid_grant",
                                        "error_message": "refresh token expired"}}}},
 {"label": "navigation: login", "get": "/app/page",
  "expect": {"status": 302,
             "location_re": "/api/permission/oauth2/authorize\\?",
             "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"token:refresh_token:400": 1}}},
 {"label": "API call with the same cookie: 401", "get": "/api/v1/x", "jar": "old",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"},
             "requests": {"token:refresh_token": 1}}}
]}
--- error_log eval
qr/refresh refused, the session ends: HTTP 400, Coze error "invalid_grant" "refresh token expired", logid "\d{14}[0-9A-F]{20}"/



=== TEST 6: refresh times out: the still valid token is used, no retry storm
--- config eval
CozeConf::coze_server(protected => '        coze_auth_timeout 1s;
        proxy_set_header X-Token $coze_access_token;')
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"fault": {"endpoint": "token", "grant_type": "refresh_token",
                     "kind": "hang", "seconds": 10}}},
 {"label": "served with the current token", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t0}", "headers.x-coze-result": "ok"},
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token": 1}}},
 {"label": "the next request does not call again at once", "get": "/app/page2",
  "expect": {"status": 200, "json": {"headers.x-token": "${t0}"},
             "requests": {"token:refresh_token": 1}}}
]}
--- error_log eval
qr/refresh failed \(timed out, HTTP 0\), the session keeps its token, retried in 5 s/



=== TEST 7: Coze answers 5xx: the current token is used, logged with the logid; a later request retries and succeeds
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900},
           "fault": {"endpoint": "token", "grant_type": "refresh_token",
                     "kind": "status", "status": 502}}},
 {"label": "served with the current token", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t0}"},
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token:502": 1}}},
 {"label": "held back: no new call", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-token": "${t0}"},
             "requests": {"token:refresh_token": 1}}},
 {"comment": "After a transient failure the module holds retries back for a fixed 5 s (a record in its shared zone, no setting shortens it, nothing outside nginx can see it end): let 5.2 s pass.",
  "sleep": 5.2},
 {"label": "retried: refreshed", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-coze-result": "refreshed",
                      "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:refresh_token": 2, "token:refresh_token:200": 1}}}
]}
--- error_log eval
qr/refresh failed \(error answer, HTTP 502\), the session keeps its token, retried in 5 s, logid "\d{14}[0-9A-F]{20}"/



=== TEST 8: Coze answers malformed JSON: the current token is used, logged with the logid
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"fault": {"endpoint": "token", "grant_type": "refresh_token",
                     "kind": "malformed"}}},
 {"label": "served with the current token", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t0}"},
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token:200": 1}}}
]}
--- error_log eval
qr/refresh: invalid response from Coze, HTTP 200, logid "\d{14}[0-9A-F]{20}"/



=== TEST 9: connection reset by Coze: the current token is used
libcurl sends a request once more when a reused keep-alive connection dies
before any answer, so Coze sees one or two attempts (both reset).
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"fault": {"endpoint": "token", "grant_type": "refresh_token",
                     "kind": "reset", "count": 2}}},
 {"label": "served with the current token", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t0}"},
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token": {"min": 1, "max": 2}}}}
]}
--- error_log eval
qr/refresh failed \([^)]*HTTP 0\), the session keeps its token/



=== TEST 10: transient failure once the token has expired: login redirect for a navigation, 503 for an API call
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30, "clock_offset": -100}}},
 LOGIN
 {"mock": {"config": {"clock_offset": 0},
           "fault": {"endpoint": "token", "grant_type": "refresh_token",
                     "kind": "status", "status": 500}}},
 {"label": "navigation: login, the session cookie is kept", "get": "/app/page",
  "expect": {"status": 302,
             "location_re": "/api/permission/oauth2/authorize\\?",
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token:500": 1}}},
 {"label": "API call: 503", "get": "/api/x", "headers": {"Accept": "application/json"},
  "expect": {"status": 503, "requests": {"token:refresh_token": 1}}}
]}
--- error_log eval
[qr/refresh failed \(error answer, HTTP 500\), the session keeps its token, retried in 5 s, logid "\d{14}[0-9A-F]{20}"/,
 qr/the access token has expired and could not be refreshed/]



=== TEST 11: POST to the userinfo location refreshes a token far from expiry
--- scenario
{"steps": [
 {"mock": {"reset": true}},
 LOGIN
 {"label": "GET: no refresh", "get": "/oauth/me",
  "expect": {"status": 200, "requests": {"token:refresh_token": 0}},
  "save": {"exp0": "json.expires_at"}},
 {"label": "POST: refresh", "get": "/oauth/me", "method": "POST", "body": "",
  "expect": {"status": 200,
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:refresh_token:200": 1}}},
 {"label": "the cookie holds the new token", "get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
             "requests": {"token:refresh_token": 1}}}
]}
