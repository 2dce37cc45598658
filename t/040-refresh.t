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
    $block->set_value("response_body_like", "^PASS \\d+ checks\n")
        unless defined $block->response_body_like;
    $block->set_value("error_code", 200) unless defined $block->error_code;
    $block->set_value("timeout", 30) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n[emerg]\n")
        unless defined $block->no_error_log;
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



=== TEST 2: 2 workers, 50 concurrent requests with the same old cookie: all get the new token, Coze sees ONE refresh
--- http_config eval
CozeConf::coze_http('web') . "    log_format pidlog '\$pid';\n" . "    access_log \$TEST_NGINX_SERVROOT/logs/pid.log pidlog;\n"
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "storm", "repeat": 50, "concurrency": 50,
  "request": {"get": "/app/storm", "jar": false,
              "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200,
                 "json": {"headers.x-coze-result": "refreshed",
                          "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
                 "set_cookie": {"coze_session": {"present": true, "deleted": false}},
                 "distinct_bodies_max": 1,
                 "requests": {"token:refresh_token": 1}}},
 {"label": "one new token", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 2},
                      "access_tokens.1": "${last.json.headers.x-token}"}}}
]}
