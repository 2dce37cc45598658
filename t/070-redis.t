# Redis (issue 10): cross-node single-flight refresh between two nginx
# instances sharing the session key and a real redis-server on loopback,
# and the fallback to per-node coordination while Redis is down.
#
# Node A is the nginx the runner starts for each block; node B is a second
# nginx started once (t/lib/CozeRedis.pm) from a generated configuration
# (its own prefix "$TEST_NGINX_SERVROOT-b", port, master and 2 workers),
# not reloaded before TEST 7: it is the one that proves recovery "without
# reload".  TEST 8 restarts it while Redis stalls, for a node whose first
# connection is still being made.
# redis-server runs on a free port with no persistence and is
# stopped/started by the blocks' "init" sections.  Cookies are host-only for
# 127.0.0.1, so the browser driver's jar sends A's session cookie to B as a
# browser would.
#
# Server-side sessions (coze_auth_session_store redis), logout ending a
# session on every node and coze_auth_revoke: t/072-redis-session.t.

use lib 't/lib';
use CozeRedis;    # first: skips the file when redis-server is missing
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

# redis-server, its control process and node B (see t/lib/CozeRedis.pm)
redis_setup();

repeat_each(1);
no_shuffle();
no_root_location();
log_level('warn');
master_on();
workers(2);
worker_connections(1024);

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
_EOS_
chomp $Login;

# the session cookie just made, nearly expired, sent 10 times at once to
# each node: every request is served with new tokens, Coze saw one refresh
my $Storm = <<'_EOS_';
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"parallel": [
   [{"label": "storm A", "repeat": 10, "concurrency": 10,
     "request": {"get": "/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^A$"},
                    "json": {"headers.x-coze-result": "refreshed"}}}],
   [{"label": "storm B", "repeat": 10, "concurrency": 10,
     "request": {"get": "${B}/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^B$"},
                    "json": {"headers.x-coze-result": "refreshed"}}}]
 ]},
 {"label": "one refresh across both nodes", "get": "${mock}/__mock/secrets",
  "jar": false, "expect": {"requests": {"token:refresh_token": 1}}}
_EOS_
chomp $Storm;

my $NodeA = "        add_header X-Node A always;\n"
          . "        proxy_set_header X-Token \$coze_access_token;";

add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->must_die) {
        $block->set_value("suppress_stderr", 1);
        return;
    }
    $block->set_value("http_config", coze_http('web', extra =>
        "    coze_auth_redis 127.0.0.1:$RedisPort timeout=500ms;\n"))
        unless defined $block->http_config;
    $block->set_value("config", coze_server(protected => $NodeA))
        unless defined $block->config;
    if (defined $block->scenario) {
        my $s = $block->scenario;
        $s =~ s/^\s*LOGIN,?\s*$/$Login/mg;
        $s =~ s/^\s*STORM\s*$/$Storm/mg;
        $s = expand_nodes($s);
        $block->set_value("request", "POST /t\n$s");
    }
    scenario_defaults($block);
});

run_tests();

# node B ran through every block without a reload: nothing went wrong there
my $blog = node_b_errors();
unlike($blog, qr/\[(alert|crit|emerg)\]|signal \d+|core dumped/,
       "node B: no alert, crit or crash in its error log");
like($blog, qr/redis 127\.0\.0\.1:\d+ is available again/,
     "node B: noticed Redis coming back, without a reload");

__DATA__

=== TEST 1: configuration: coze_auth_redis parameters are validated
--- http_config
    coze_auth_redis 127.0.0.1:1 db=x;
--- config
--- must_die
--- error_log
invalid parameter "db=x"



=== TEST 2: configuration: coze_auth_session_store rejects unknown values
--- http_config eval
"    coze_auth_redis 127.0.0.1:$main::RedisPort;\n    coze_auth_session_store disk;\n"
--- config
--- must_die
--- error_log
invalid value "disk", "cookie" or "redis" expected



=== TEST 3: a session made on node A works on node B (shared key)
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 900}}},
 LOGIN
 {"label": "on A", "get": "/app/a",
  "expect": {"status": 200, "header_re": {"X-Node": "^A$"},
             "json": {"headers.authorization": "Bearer ${t0}"}}},
 {"label": "on B", "get": "${B}/app/b",
  "expect": {"status": 200, "header_re": {"X-Node": "^B$"},
             "json": {"headers.authorization": "Bearer ${t0}",
                      "headers.x-coze-result": "ok"}}}
]}



=== TEST 4: one expiring session, 40 concurrent requests split over A and B (2 workers each): ONE refresh at Coze
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"parallel": [
   [{"label": "storm A", "repeat": 20, "concurrency": 20,
     "request": {"get": "/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^A$"},
                    "json": {"headers.x-coze-result": "refreshed",
                             "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
                    "set_cookie": {"coze_session": {"present": true,
                                                    "deleted": false}}}}],
   [{"label": "storm B", "repeat": 20, "concurrency": 20,
     "request": {"get": "${B}/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^B$"},
                    "json": {"headers.x-coze-result": "refreshed",
                             "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
                    "set_cookie": {"coze_session": {"present": true,
                                                    "deleted": false}}}}]
 ]},
 {"label": "Coze saw one refresh, issued one new token", "get": "${mock}/__mock/secrets",
  "jar": false,
  "expect": {"json": {"access_tokens": {"len": 2}},
             "requests": {"token:refresh_token": 1}}}
]}



=== TEST 5: the old cookie on the other node, after the refresh: the published result, no second refresh
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "refresh on A", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "refreshed"},
             "requests": {"token:refresh_token": 1}},
  "save": {"t1": "json.headers.x-token"}},
 {"label": "old cookie on B", "get": "${B}/app/replay", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t1}",
                      "headers.x-coze-result": "refreshed"},
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:refresh_token": 1}}}
]}



=== TEST 6: Redis stopped: cookie sessions keep working on both nodes, refresh falls back to per-node coordination, logged once
--- init
$main::BMark = main::node_b_log_size();
main::redis_stop();
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"label": "refresh on A without Redis", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "refreshed"},
             "requests": {"token:refresh_token": 1}}},
 {"label": "the new cookie on B", "get": "${B}/app/b",
  "expect": {"status": 200, "header_re": {"X-Node": "^B$"},
             "json": {"headers.x-coze-result": "ok"}}},
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 {"cookie": {"jar": "main", "name": "coze_session", "op": "delete"}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "storm on B alone, without Redis: one refresh (per node)",
  "repeat": 10, "concurrency": 10,
  "request": {"get": "${B}/app/storm", "jar": false,
              "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200,
                 "json": {"headers.x-coze-result": "refreshed"}}},
 {"label": "one refresh", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"requests": {"token:refresh_token": 1}}}
]}
--- error_log eval
qr/redis 127\.0\.0\.1:\d+ unavailable/



=== TEST 7: Redis back: both nodes reconnect by themselves (B was never reloaded) and coordinate again
--- init
main::redis_start();
# both workers of B log it when their connection is ready again
main::await_log('B', $main::BMark, 2, qr/is available again/) >= 2
    or die "node B did not reconnect to Redis\n";
# node A was started for this block while Redis was still down: its two
# workers connect too (else a worker without Redis refreshes on its own)
main::await_clients(4) >= 4
    or die "node A's workers did not connect to Redis\n";
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 STORM
]}



=== TEST 8: a node just started, its first connection to Redis not ready yet: its first refresh still waits for the cross-node lock (ONE refresh)
--- http_config eval
main::coze_http('web', extra =>
    "    coze_auth_redis 127.0.0.1:$main::RedisPort db=1 "
    . "connect_timeout=5s timeout=5s;\n")
--- init
# Redis stalls (SIGSTOP) for 1.5 s and node B starts anew meanwhile (same
# key, db=1 like A): the kernel accepts its workers' connections but their
# SELECT is not answered, so their first connection is not ready when the
# storm below reaches them.  A's lock requests (or its own first
# connection, if it was still being made) wait for Redis as well.
main::redis_freeze(1500);
main::node_b_start(redis => "db=1 connect_timeout=5s timeout=5s");
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 STORM
]}
