# Server-side sessions (coze_auth_session_store redis): the cookie holds a
# sealed random id, Redis the sealed token set; logout on one node and
# coze_auth_revoke end sessions on every node; refreshes are persisted
# without a new cookie; an unavailable Redis is a 503, never a logout.
#
# As in t/070-redis.t: node A is the nginx the runner starts for each
# block, node B a second nginx started once (t/lib/CozeRedis.pm) and never
# reloaded, both with the same session key, redis-server on a free
# loopback port without persistence.  Cookies are host-only for 127.0.0.1,
# so the browser driver's jars send A's cookies to B as a browser would.
#
# Scenarios look into Redis through the control process of CozeRedis:
# "${R}/KEYS/coze_auth:session:*" answers {"reply": [...]}, and
# "${R}/__stop" / "${R}/__start" stop and start redis-server between two
# steps (the restarted Redis is empty: sessions are lost).  RESET empties
# Redis and the mock, so every block starts from no session at all.

use lib 't/lib';
use CozeRedis;    # first: skips the file when redis-server is missing
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

# the revoke endpoint and the counters, on both nodes
my $Revoke = <<'_EOC_';
    location = /admin/revoke {
        allow 127.0.0.1;
        deny all;
        coze_auth_revoke;
    }

    location = /admin/status {
        coze_auth_status;
    }
_EOC_

redis_setup(http => "    coze_auth_session_store redis;\n", server => $Revoke);

# a second Redis that wants a password, for coze_auth_redis's password_file=
# and db= (the right password, and a wrong one)
our $SecurePass = "pw-$$-" . int(rand(1e9));
our $SecurePort = redis_spawn('--requirepass', $SecurePass);
our %PassFile = (right => servroot_path('-redis-right.pass'),
                 wrong => servroot_path('-redis-wrong.pass'));
for my $k (keys %PassFile) {
    open my $fh, '>', $PassFile{$k} or die "$PassFile{$k}: $!\n";
    print $fh $k eq 'right' ? "$SecurePass\n" : "not-the-password\n";
    close $fh;
    chmod 0600, $PassFile{$k};
}

repeat_each(1);
no_shuffle();
no_root_location();
log_level('warn');
master_on();
workers(2);
worker_connections(1024);

# LOGIN(jar, n, at, rt[, user]): a login in that jar that stops at the
# callback's answer (n: how many logins the mock has seen since the reset);
# then at/rt hold the access and refresh token Coze issued for it.  user
# logs in as another mock user (X-Mock-User on the authorize request).
# LOGIN alone is LOGIN(main, 1, t0, rt0).
sub login {
    my ($jar, $n, $at, $rt, $user) = @_;
    my $h = defined $user ? qq{"headers": {"X-Mock-User": "$user"}, } : '';
    my $i = $n - 1;
    return <<"_EOS_";
 {"label": "protected ($jar)", "get": "/app/page", "jar": "$jar",
  "expect": {"status": 302}, "save": {"authz_$jar": "location"}},
 {"label": "authorize ($jar)", "get": "\${authz_$jar}", "jar": "$jar", $h
  "expect": {"status": 302}, "save": {"cb_$jar": "location"}},
 {"label": "callback ($jar)", "get": "\${cb_$jar}", "jar": "$jar",
  "expect": {"status": 302, "location_re": "/app/page\$",
             "set_cookie": {"coze_session": {"present": true, "deleted": false}},
             "requests": {"token:authorization_code:200": $n, "users_me": $n}}},
 {"label": "issued ($jar)", "get": "\${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": $n}, "refresh_tokens": {"len": $n}}},
  "save": {"$at": "json.access_tokens.$i", "$rt": "json.refresh_tokens.$i"}},
_EOS_
}

# LOGIN_B(jar): a login on node B (its callback registered at the mock)
sub login_b {
    my ($jar) = @_;
    return <<"_EOS_";
 {"mock": {"config": {"redirect_uris": ["\${B}/oauth/callback"]}}},
 {"label": "protected on B ($jar)", "get": "\${B}/app/page", "jar": "$jar",
  "expect": {"status": 302}, "save": {"authz_$jar": "location"}},
 {"label": "authorize ($jar)", "get": "\${authz_$jar}", "jar": "$jar",
  "expect": {"status": 302}, "save": {"cb_$jar": "location"}},
 {"label": "callback on B ($jar)", "get": "\${cb_$jar}", "jar": "$jar",
  "expect": {"status": 302,
             "set_cookie": {"coze_session": {"present": true, "deleted": false}}}},
_EOS_
}

# STOP_REDIS: the sizes of both nodes' error logs (amark, bmark), then
# redis-server stopped.  START_REDIS: redis-server started again (empty)
# and both workers of each node reconnected by themselves (each logs "is
# available again" after the mark).
my $StopRedis = <<'_EOS_';
 {"label": "marks in the error logs", "get": "${R}/__log_size/A", "jar": false,
  "save": {"amark": "json.reply"}},
 {"get": "${R}/__log_size/B", "jar": false, "save": {"bmark": "json.reply"}},
 {"label": "stop Redis", "get": "${R}/__stop", "jar": false,
  "expect": {"status": 200, "json": {"reply": "stopped"}}}
_EOS_
my $StartRedis = <<'_EOS_';
 {"label": "start Redis (empty)", "get": "${R}/__start", "jar": false,
  "expect": {"status": 200, "json": {"reply": "running"}}},
 {"label": "both workers of A reconnect by themselves",
  "get": "${R}/__await_log/A/${amark}/2/is%20available%20again", "jar": false,
  "expect": {"status": 200}},
 {"label": "both workers of B reconnect by themselves",
  "get": "${R}/__await_log/B/${bmark}/2/is%20available%20again", "jar": false,
  "expect": {"status": 200}}
_EOS_
chomp($StopRedis, $StartRedis);

# RESET: the mock (access tokens valid 15 min unless said otherwise) and an
# empty Redis
sub reset_steps {
    my ($ttl) = @_;
    $ttl //= 900;
    return <<"_EOS_";
 {"mock": {"reset": true, "config": {"access_ttl": $ttl}}},
 {"label": "empty Redis", "get": "\${R}/FLUSHALL", "jar": false,
  "expect": {"status": 200, "json": {"reply": "OK"}}},
_EOS_
}

my $NodeA = "        add_header X-Node A always;\n"
          . "        proxy_set_header X-Token \$coze_access_token;";

add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->must_die) {
        $block->set_value("suppress_stderr", 1);
        return;
    }
    $block->set_value("http_config", coze_http('web', extra =>
        "    coze_auth_redis 127.0.0.1:$RedisPort timeout=500ms;\n"
        . "    coze_auth_session_store redis;\n"
        . ($block->http_extra // '')))
        unless defined $block->http_config;
    $block->set_value("config", coze_server(protected => $NodeA) . $Revoke)
        unless defined $block->config;
    if (defined $block->scenario) {
        my $s = $block->scenario;
        $s =~ s/^\s*RESET(?:\((\d+)\))?,?\s*$/reset_steps($1)/mge;
        $s =~ s/^\s*LOGIN\(([^)]*)\),?\s*$/login(split m{\s*,\s*}, $1)/mge;
        $s =~ s/^\s*LOGIN,?\s*$/login('main', 1, 't0', 'rt0')/mge;
        $s =~ s/^\s*LOGIN_B\((\w+)\),?\s*$/login_b($1)/mge;
        $s =~ s/^\s*STOP_REDIS(,?)\s*$/$StopRedis$1/mg;
        $s =~ s/^\s*START_REDIS(,?)\s*$/$StartRedis$1/mg;
        $s = expand_nodes($s);
        $block->set_value("request", "POST /t\n$s");
    }
    scenario_defaults($block);
});

run_tests();

# TEST 14's session went to database 3 of the Redis that wants a password
my ($in3, $err3) = redis_cmds($SecurePort, ['AUTH', $SecurePass],
                              ['SELECT', 3], ['KEYS', 'coze_auth:session:*']);
is(ref $in3 && scalar(@$in3), 1,
   "password_file= and db=3: one session in database 3") or diag $err3;
my ($in0) = redis_cmds($SecurePort, ['AUTH', $SecurePass],
                       ['KEYS', 'coze_auth:session:*']);
is(ref $in0 && scalar(@$in0), 0, "and none in database 0");

# node B served every block without a reload, through the outage
my $blog = node_b_errors();
unlike($blog, qr/\[(alert|crit|emerg)\]|signal \d+|core dumped/,
       "node B: no alert, crit or crash in its error log");
like($blog, qr/redis 127\.0\.0\.1:$RedisPort unavailable/,
     "node B: noticed Redis going away");
like($blog, qr/redis 127\.0\.0\.1:$RedisPort is available again/,
     "node B: noticed Redis coming back, without a reload");

__DATA__

=== TEST 1: configuration: coze_auth_session_store redis needs coze_auth_redis
--- http_config eval
CozeConf::coze_http('web', extra => "    coze_auth_session_store redis;\n")
--- config
--- must_die
--- error_log
"coze_auth_session_store redis" requires "coze_auth_redis"



=== TEST 2: configuration: coze_auth_revoke needs coze_auth_redis
--- http_config eval
CozeConf::coze_http('web')
--- config
    location = /admin/revoke {
        coze_auth_revoke;
    }
--- must_die
--- error_log
"coze_auth_revoke" requires "coze_auth_redis"



=== TEST 3: a login keeps the tokens in Redis, sealed, for the session's lifetime; the cookie is a short id
--- scenario
{"steps": [
 RESET
 LOGIN
 {"label": "the cookie: short, no token in it", "get": "${mock}/__upstream/cookie",
  "jar": false, "headers": {"X-Cookie": "${cookie.main.coze_session}"},
  "expect": {"json": {"headers.x-cookie": {"re": "^.{16,119}$",
                                           "not_re": "${t0}|${rt0}"}}}},
 {"label": "one session in Redis", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false,
  "expect": {"json": {"reply": {"len": 1},
                      "reply.0": {"re": "^coze_auth:session:[0-9a-f]{64}$"}}},
  "save": {"skey": "json.reply.0"}},
 {"label": "sealed: no token in the value", "get": "${R}/GET/${skey}", "jar": false,
  "expect": {"json": {"reply": {"type": "string", "not_re": "${t0}|${rt0}"}}}},
 {"label": "expires with the session (30d by default)", "get": "${R}/TTL/${skey}",
  "jar": false, "expect": {"json": {"reply": {"gt": 2591000, "lt": 2592001}}}},
 {"label": "userinfo on A", "get": "/oauth/me", "headers": {"Accept": "application/json"},
  "expect": {"status": 200, "json": {"user_id": "${default_user}"},
             "body_not_re": "${t0}|${rt0}",
             "set_cookie": {"coze_session": {"present": false}}},
  "save": {"uid": "json.user_id"}},
 {"label": "the user's set lists the session", "get": "${R}/SMEMBERS/coze_auth:user:${uid}",
  "jar": false, "expect": {"json": {"reply": {"len": 1}}}},
 {"label": "on A", "get": "/app/a",
  "expect": {"status": 200, "header_re": {"X-Node": "^A$"},
             "json": {"headers.authorization": "Bearer ${t0}",
                      "headers.x-token": "${t0}",
                      "headers.x-coze-result": "ok",
                      "headers.x-coze-user": "${uid}",
                      "headers.cookie": {"not_re": "coze_session"}},
             "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "the session cookie did not change", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}, "reply.0": "${skey}"}}}
]}



=== TEST 4: made on A, used on B, logout on B: gone from Redis, the old cookie is no session on A (both workers) nor on B
--- scenario
{"steps": [
 RESET
 LOGIN
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "on A, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false, "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200,
                 "json": {"headers.authorization": "Bearer ${t0}",
                          "headers.x-coze-result": "ok"}}},
 {"label": "on B", "get": "${B}/app/b",
  "expect": {"status": 200, "header_re": {"X-Node": "^B$"},
             "json": {"headers.authorization": "Bearer ${t0}",
                      "headers.x-token": "${t0}",
                      "headers.x-coze-result": "ok",
                      "headers.x-coze-user": "${default_user}"},
             "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "userinfo on B", "get": "${B}/oauth/me",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 200, "json": {"user_id": "${default_user}"},
             "body_not_re": "${t0}|${rt0}"}},
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"label": "logout on B", "get": "${B}/oauth/logout",
  "expect": {"status": 302,
             "set_cookie": {"coze_session": {"present": true, "deleted": true}},
             "jar": {"coze_session": {"present": false}}}},
 {"label": "the session is gone from Redis", "get": "${R}/EXISTS/${skey}", "jar": false,
  "expect": {"json": {"reply": 0}}},
 {"label": "old cookie on A: navigation", "get": "/app/a", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "old cookie on A: API, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false,
              "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"}},
  "expect_all": {"status": 401, "json": {"error": "unauthenticated"},
                 "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "old cookie on B: navigation", "get": "${B}/app/b", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "old cookie on B: userinfo", "get": "${B}/oauth/me", "jar": false,
  "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"},
  "expect": {"status": 401}},
 {"label": "the upstream saw only the requests with a session", "get": "${mock}/__mock/ping",
  "jar": false, "expect": {"requests": {"upstream": 7}}},
 {"label": "A counted the 7 requests with the ended session", "get": "/admin/status",
  "jar": false,
  "expect": {"json": {"sessions_rejected_ended": 7, "sessions_rejected_tampered": 0,
                      "session_store_unavailable": 0}}}
]}



=== TEST 5: coze_auth_revoke: one user's sessions end on every node; other users keep theirs
--- scenario
{"steps": [
 RESET
 LOGIN(main, 1, t0, rt0)
 LOGIN(second, 2, t1, rt1)
 LOGIN(other, 3, t2, rt2, 7380000000000000099)
 {"set": {"c1": "${cookie.main.coze_session}", "c2": "${cookie.second.coze_session}"}},
 {"label": "three sessions", "get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 3}}}},
 {"label": "two of them the default user's", "get": "${R}/SCARD/coze_auth:user:${default_user}",
  "jar": false, "expect": {"json": {"reply": 2}}},
 {"label": "first on A", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}},
 {"label": "second on B", "get": "${B}/app/b", "jar": "second",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t1}"}}},
 {"label": "GET: 405", "get": "/admin/revoke?user_id=${default_user}", "jar": false,
  "expect": {"status": 405}},
 {"label": "no user_id: 400", "get": "/admin/revoke", "method": "POST", "body": "",
  "jar": false,
  "expect": {"status": 400, "header_re": {"Content-Type": "^application/json"}}},
 {"label": "nothing revoked yet", "get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 3}}}},
 {"label": "B has revoked nothing yet (the first revocation of the file)",
  "get": "${B}/admin/status", "jar": false,
  "expect": {"json": {"sessions_revoked": 0}}},
 {"label": "revoke on B", "get": "${B}/admin/revoke?user_id=${default_user}",
  "method": "POST", "body": "", "jar": false,
  "expect": {"status": 200, "header_re": {"Content-Type": "^application/json"},
             "json": {"user_id": "${default_user}", "revoked": 2}}},
 {"label": "B counted them", "get": "${B}/admin/status", "jar": false,
  "expect": {"json": {"sessions_revoked": 2}}},
 {"label": "only the other user's session is left", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}}}},
 {"get": "${R}/SCARD/coze_auth:user:${default_user}", "jar": false,
  "expect": {"json": {"reply": 0}}},
 {"label": "first cookie on A", "get": "/app/a", "jar": false,
  "headers": {"Cookie": "coze_session=${c1}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "second cookie on A", "get": "/app/a", "jar": false,
  "headers": {"Cookie": "coze_session=${c2}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "first cookie on B", "get": "${B}/app/b", "jar": false,
  "headers": {"Cookie": "coze_session=${c1}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "second cookie on B", "get": "${B}/app/b", "jar": false,
  "headers": {"Cookie": "coze_session=${c2}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "the other user's session still works on A", "get": "/app/a", "jar": "other",
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${t2}",
                      "headers.x-coze-user": "7380000000000000099"}}},
 {"label": "DELETE, nothing left", "get": "/admin/revoke?user_id=${default_user}",
  "method": "DELETE", "body": "", "jar": false,
  "expect": {"status": 200, "json": {"user_id": "${default_user}", "revoked": 0}}},
 {"label": "a user who never logged in", "get": "${B}/admin/revoke?user_id=42",
  "method": "POST", "body": "", "jar": false,
  "expect": {"status": 200, "json": {"user_id": "42", "revoked": 0}}}
]}



=== TEST 6: one expiring session, 40 concurrent requests over A and B: ONE refresh, the new tokens persisted in Redis, no new cookie
--- scenario
{"steps": [
 RESET(30)
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"parallel": [
   [{"label": "storm A", "repeat": 20, "concurrency": 20,
     "request": {"get": "/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^A$"},
                    "json": {"headers.x-coze-result": {"re": "^(refreshed|ok)$"},
                             "headers.x-token": {"re": "^czu_", "ne": "${t0}"},
                             "headers.authorization": {"re": "^Bearer czu_",
                                                       "ne": "Bearer ${t0}"}},
                    "set_cookie": {"coze_session": {"present": false}}}}],
   [{"label": "storm B", "repeat": 20, "concurrency": 20,
     "request": {"get": "${B}/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200, "header_re": {"X-Node": "^B$"},
                    "json": {"headers.x-coze-result": {"re": "^(refreshed|ok)$"},
                             "headers.x-token": {"re": "^czu_", "ne": "${t0}"}},
                    "set_cookie": {"coze_session": {"present": false}}}}]
 ]},
 {"label": "Coze saw one refresh, issued one new token", "get": "${mock}/__mock/secrets",
  "jar": false,
  "expect": {"json": {"access_tokens": {"len": 2}, "refresh_tokens": {"len": 2}},
             "requests": {"token:refresh_token": 1}},
  "save": {"t1": "json.access_tokens.1", "rt1": "json.refresh_tokens.1"}},
 {"label": "the same cookie on B later: the persisted new token", "get": "${B}/app/after",
  "jar": false, "headers": {"Cookie": "coze_session=${old}"}, "retry": {"timeout": 5},
  "expect": {"status": 200,
             "json": {"headers.x-token": "${t1}", "headers.x-coze-result": "ok"},
             "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "and on A", "get": "/app/after",
  "jar": false, "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${t1}",
                      "headers.x-coze-result": "ok"},
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token:refresh_token": 1}}},
 {"label": "still one session, same id", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}, "reply.0": "${skey}"}}},
 {"label": "still sealed", "get": "${R}/GET/${skey}", "jar": false,
  "expect": {"json": {"reply": {"type": "string",
                                "not_re": "${t1}|${rt1}|${t0}|${rt0}"}}}},
 {"label": "still expiring with the session", "get": "${R}/TTL/${skey}", "jar": false,
  "expect": {"json": {"reply": {"gt": 2591000, "lt": 2592001}}}}
]}



=== TEST 7: Redis stopped: a session cookie gets 503 (page or JSON, Retry-After), is kept; no cookie still logs in; callback and revoke 503
--- scenario
{"steps": [
 RESET
 LOGIN
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "works before", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 STOP_REDIS,
 {"label": "navigation on A: 503 page", "get": "/app/a",
  "expect": {"status": 503,
             "header_re": {"Content-Type": "^text/html", "Retry-After": "^\\d+$"},
             "set_cookie": {"coze_session": {"deleted": false}},
             "jar": {"coze_session": {"present": true, "value_re": "^${old}$"}}}},
 {"label": "API on A: 503 JSON", "get": "/app/a", "headers": {"Accept": "application/json"},
  "expect": {"status": 503,
             "header_re": {"Content-Type": "^application/json", "Retry-After": "^\\d+$"},
             "json": {"error": "session_store_unavailable"},
             "set_cookie": {"coze_session": {"deleted": false}},
             "jar": {"coze_session": {"present": true}}}},
 {"label": "A counted both", "get": "/admin/status", "jar": false,
  "expect": {"json": {"session_store_unavailable": 2}}},
 {"label": "A, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false,
              "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"}},
  "expect_all": {"status": 503, "json": {"error": "session_store_unavailable"},
                 "header_re": {"Retry-After": "^\\d+$"},
                 "set_cookie": {"coze_session": {"deleted": false}}}},
 {"label": "API on B: 503 JSON", "get": "${B}/app/b", "headers": {"Accept": "application/json"},
  "expect": {"status": 503,
             "header_re": {"Content-Type": "^application/json", "Retry-After": "^\\d+$"},
             "json": {"error": "session_store_unavailable"},
             "set_cookie": {"coze_session": {"deleted": false}}}},
 {"label": "navigation on B: 503 page", "get": "${B}/app/b",
  "expect": {"status": 503,
             "header_re": {"Content-Type": "^text/html", "Retry-After": "^\\d+$"},
             "set_cookie": {"coze_session": {"deleted": false}},
             "jar": {"coze_session": {"present": true}}}},
 {"label": "userinfo on A: 503", "get": "/oauth/me", "headers": {"Accept": "application/json"},
  "expect": {"status": 503, "json": {"error": "session_store_unavailable"},
             "set_cookie": {"coze_session": {"deleted": false}}}},
 {"label": "the upstream saw none of them", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"upstream": 1}}},
 {"label": "no cookie: the usual login redirect", "get": "/app/page", "jar": "fresh",
  "expect": {"status": 302, "location_re": "/authorize\\?"}, "save": {"authz": "location"}},
 {"label": "API without a cookie: the usual 401", "get": "${B}/app/page", "jar": false,
  "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"}}},
 {"label": "authorize", "get": "${authz}", "jar": "fresh",
  "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback while Redis is down: 503, no session", "get": "${cb}", "jar": "fresh",
  "expect": {"status": 503, "body_re": "session_store_unavailable",
             "set_cookie": {"coze_session": {"present": false}},
             "jar": {"coze_session": {"present": false}}, "jar_name": "fresh"}},
 {"label": "revoke: 503 JSON", "get": "${B}/admin/revoke?user_id=${default_user}",
  "method": "POST", "body": "", "jar": false,
  "expect": {"status": 503, "header_re": {"Content-Type": "^application/json"}}},
 {"label": "revoke on A: 503 JSON", "get": "/admin/revoke?user_id=${default_user}",
  "method": "POST", "body": "", "jar": false,
  "expect": {"status": 503, "header_re": {"Content-Type": "^application/json"}}},
 START_REDIS
]}
--- error_log eval
"redis 127.0.0.1:$main::RedisPort unavailable"



=== TEST 8: Redis restarted (empty): both nodes reconnect without reload; the old cookie is no session; a new login works across nodes
--- scenario
{"steps": [
 RESET
 LOGIN
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "on B", "get": "${B}/app/b",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 STOP_REDIS,
 {"label": "503 meanwhile", "get": "/app/a", "headers": {"Accept": "application/json"},
  "expect": {"status": 503}},
 START_REDIS,
 {"label": "old cookie on A: navigation", "get": "/app/a", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "old cookie on A: API, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false,
              "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"}},
  "expect_all": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "old cookie on B: navigation", "get": "${B}/app/b",
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}},
             "jar": {"coze_session": {"present": false}}}},
 LOGIN(fresh, 2, t1, rt1)
 {"label": "new session in the new Redis", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}}}},
 {"label": "new session on B", "get": "${B}/app/b", "jar": "fresh",
  "expect": {"status": 200, "header_re": {"X-Node": "^B$"},
             "json": {"headers.authorization": "Bearer ${t1}",
                      "headers.x-coze-result": "ok"}}},
 {"label": "new session on A", "get": "/app/a", "jar": "fresh",
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${t1}",
                      "headers.x-coze-result": "ok"}}}
]}
--- error_log eval
qr/redis 127\.0\.0\.1:\d+ is available again/



=== TEST 9: a key gone behind nginx's back (expired, evicted) or a tampered cookie: no session on either node, even after the workers saw it
--- scenario
{"steps": [
 RESET
 LOGIN
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"label": "A, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false, "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 {"label": "B, both workers", "repeat": 6, "concurrency": 3,
  "request": {"get": "${B}/app/b", "jar": false, "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 {"cookie": {"jar": "bad", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "bad", "name": "coze_session", "op": "flipbit"}},
 {"label": "tampered on A", "get": "/app/a", "jar": "bad",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"},
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "tampered on B", "get": "${B}/app/b", "jar": false,
  "headers": {"Cookie": "coze_session=${head:40:${old}}"},
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "the session itself is untouched", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"label": "Redis drops the key", "get": "${R}/DEL/${skey}", "jar": false,
  "expect": {"json": {"reply": 1}}},
 {"label": "A, both workers: no session", "repeat": 6, "concurrency": 3,
  "request": {"get": "/app/a", "jar": false,
              "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"}},
  "expect_all": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "B, both workers: no session", "repeat": 6, "concurrency": 3,
  "request": {"get": "${B}/app/b", "jar": false,
              "headers": {"Cookie": "coze_session=${old}"}},
  "expect_all": {"status": 302, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "the upstream saw only the 12 with a session", "get": "${mock}/__mock/ping",
  "jar": false, "expect": {"requests": {"upstream": 12}}}
]}



=== TEST 10: the Redis TTL follows coze_auth_session_lifetime
--- http_extra
    coze_auth_session_lifetime 1h;
--- scenario
{"steps": [
 RESET
 LOGIN
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"label": "TTL: the session's remaining lifetime", "get": "${R}/TTL/${skey}",
  "jar": false, "expect": {"json": {"reply": {"gt": 3500, "lt": 3601}}}},
 {"label": "works", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}}
]}



=== TEST 11: coze_auth_session_store redis at server level
--- http_config eval
CozeConf::coze_http('web', extra =>
    "    coze_auth_redis 127.0.0.1:$main::RedisPort timeout=500ms;\n")
--- config eval
"    coze_auth_session_store redis;\n"
. CozeConf::coze_server(protected => "        add_header X-Node A always;")
--- scenario
{"steps": [
 RESET
 LOGIN
 {"label": "the cookie: short", "get": "${mock}/__upstream/cookie",
  "jar": false, "headers": {"X-Cookie": "${cookie.main.coze_session}"},
  "expect": {"json": {"headers.x-cookie": {"re": "^.{16,119}$",
                                           "not_re": "${t0}|${rt0}"}}}},
 {"label": "one session in Redis", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 1}}}},
 {"label": "works on A", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}",
                                     "headers.x-coze-result": "ok"}}},
 {"label": "and on B", "get": "${B}/app/b",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}}
]}



=== TEST 12: without coze_auth_session_store, coze_auth_redis keeps cookie sessions: nothing in Redis; a cookie session is refused where sessions are in Redis
--- http_config eval
CozeConf::coze_http('web', extra =>
    "    coze_auth_redis 127.0.0.1:$main::RedisPort timeout=500ms;\n")
--- config eval
CozeConf::coze_server(protected => "        add_header X-Node A always;")
--- scenario
{"steps": [
 RESET
 LOGIN
 {"label": "the cookie holds the sealed token set: long", "get": "${mock}/__upstream/cookie",
  "jar": false, "headers": {"X-Cookie": "${cookie.main.coze_session}"},
  "expect": {"json": {"headers.x-cookie": {"re": "^.{200,}$"}}}},
 {"label": "no session in Redis", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 0}}}},
 {"label": "works on A", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}},
 {"label": "B keeps sessions in Redis: A's cookie session is refused there, and deleted",
  "get": "${B}/app/b",
  "expect": {"status": 302, "location_re": "/authorize\\?|[?&]return_to=",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 LOGIN_B(onb)
 {"label": "B's id cookie works on B", "get": "${B}/app/b", "jar": "onb",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 {"label": "and is refused by A's cookie store, and deleted", "get": "/app/a",
  "jar": "onb", "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}}
]}



=== TEST 13: key rotation: A has a new first key and the old one; a session made on B (old key only) is re-sealed by A, cookie and record
--- http_config eval
CozeConf::coze_http('web', key => 'session2.key', extra =>
    "    coze_auth_session_key \$TEST_NGINX_DATA_DIR/session.key;\n"
    . "    coze_auth_redis 127.0.0.1:$main::RedisPort timeout=500ms;\n"
    . "    coze_auth_session_store redis;\n")
--- scenario
{"steps": [
 RESET
 LOGIN_B(main)
 {"label": "issued", "get": "${mock}/__mock/secrets", "jar": false,
  "save": {"t0": "json.access_tokens.0"}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"label": "on A: works, and the id cookie is re-sealed with the new key", "get": "/app/a",
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${t0}", "headers.x-coze-result": "ok"},
             "set_cookie": {"coze_session": {"present": true, "deleted": false,
                                             "value_re": "^(?!${old}$)"}}}},
 {"label": "the new cookie names the same session", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"},
             "set_cookie": {"coze_session": {"present": false}}}},
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}, "reply.0": "${skey}"}}},
 {"label": "the old cookie still opens on A", "get": "/app/a", "jar": false,
  "headers": {"Cookie": "coze_session=${old}"},
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}},
 {"label": "B, without the new key, cannot read the re-sealed record any more",
  "get": "${B}/app/b", "jar": false, "retry": {"timeout": 5},
  "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "but leaves it for the nodes that can", "get": "${R}/EXISTS/${skey}",
  "jar": false, "expect": {"json": {"reply": 1}}},
 {"label": "A still serves it", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}"}}}
]}



=== TEST 14: coze_auth_redis password_file= and db=: sessions in database 3 of a Redis that wants a password
--- http_config eval
CozeConf::coze_http('web', extra =>
    "    coze_auth_redis 127.0.0.1:$main::SecurePort db=3 "
    . "password_file=$main::PassFile{right} timeout=500ms;\n"
    . "    coze_auth_session_store redis;\n")
--- scenario
{"steps": [
 RESET
 LOGIN
 {"label": "works on A", "get": "/app/a",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${t0}",
                                     "headers.x-coze-result": "ok"}}},
 {"label": "nothing in the shared Redis", "get": "${R}/KEYS/coze_auth:session:*",
  "jar": false, "expect": {"json": {"reply": {"len": 0}}}}
]}
--- no_error_log
[alert]
[crit]
[emerg]
refused AUTH or SELECT



=== TEST 15: a wrong password: logged, and a login cannot complete (503), nothing else breaks
--- http_config eval
CozeConf::coze_http('web', extra =>
    "    coze_auth_redis 127.0.0.1:$main::SecurePort "
    . "password_file=$main::PassFile{wrong} timeout=500ms;\n"
    . "    coze_auth_session_store redis;\n")
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 900}}},
 {"label": "protected, no session: the usual login", "get": "/app/page",
  "expect": {"status": 302}, "save": {"authz": "location"}},
 {"label": "authorize", "get": "${authz}", "expect": {"status": 302},
  "save": {"cb": "location"}},
 {"label": "callback: the session cannot be stored", "get": "${cb}",
  "expect": {"status": 503, "body_re": "session_store_unavailable",
             "set_cookie": {"coze_session": {"present": false}}}}
]}
--- error_log eval
qr/redis 127\.0\.0\.1:\d+ refused AUTH or SELECT/



=== TEST 16: a refresh token Coze refuses ends the session: its record and its place in the user's set go, on every node
--- scenario
{"steps": [
 RESET(30)
 LOGIN
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"get": "${R}/KEYS/coze_auth:session:*", "jar": false,
  "expect": {"json": {"reply": {"len": 1}}}, "save": {"skey": "json.reply.0"}},
 {"mock": {"expire": {"refresh_token": "${rt0}"},
           "config": {"refresh_error": {"status": 400, "error_code": "invalid_grant",
                                        "error_message": "refresh token expired"}}}},
 {"label": "on A: the refresh is refused, the session ends", "get": "/app/page",
  "expect": {"status": 302, "location_re": "/authorize\\?",
             "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"token:refresh_token:400": 1}}},
 {"label": "the record is gone (written without waiting: awaited)",
  "get": "${R}/__await_reply/0/EXISTS/${skey}", "jar": false,
  "expect": {"status": 200, "json": {"reply": 0}}},
 {"label": "and the user's set is empty", "get": "${R}/SCARD/coze_auth:user:${default_user}",
  "jar": false, "expect": {"json": {"reply": 0}}},
 {"label": "the old cookie on B: no session, no second refresh", "get": "${B}/app/b",
  "jar": false, "headers": {"Cookie": "coze_session=${old}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"token:refresh_token": 1}}}
]}
--- error_log eval
qr/refresh refused, the session ends: HTTP 400/
