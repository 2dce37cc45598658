# The non-blocking Coze client (issue 3): libcurl's multi-socket API on the
# nginx event loop.
#
#   * one worker keeps answering other requests while a code exchange waits
#     on a slow token endpoint (order of completion, never a duration);
#   * each transport failure of the code exchange gives the documented
#     error page and one "coze auth: token call failed" line: timeout (504),
#     connection reset, unreachable port, unreadable JSON and TLS failures
#     (502); TLS with the test CA, and with verification off, works;
#   * the outbound proxy setting is honoured;
#   * a client that goes away mid-exchange cancels the transfer: the
#     worker's open descriptors return to their count before the login; a
#     JWT token call runs as a task that outlives its request, so it ends
#     at coze_auth_timeout instead, and then the descriptors return too;
#   * keep-alive connections to Coze are reused;
#   * reload (HUP) and graceful shutdown (QUIT) with a call in flight: the
#     call completes, then the old worker (or nginx) exits, without alerts
#     and, for the reload, without descriptors left in the master.
#
# master_process on, worker_processes 1: "the same worker" is the only one,
# and the pid of the worker that proxies the scenario reaches the mock's
# browser driver as X-Browse-Pid (${nginx_pid}), which lets the driver
# count that process's descriptors and signal its master.

use lib 't/lib';
use CozeTest tls => 1;
use CozeConf;
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();
master_on();
workers(1);

# A port on which nothing listens: bound (so nothing else gets it) and never
# listening, so connecting to it is refused.
my $Closed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp', ReuseAddr => 0)
    or die "cannot bind a local port: $!\n";
$ENV{TEST_NGINX_CLOSED_PORT} = $Closed->sockport;

# a TLS mock whose certificate (signed by ca.pem) names another host
$ENV{TEST_NGINX_WRONGHOST_PORT} = start_mock(tls => 1,
    cert => data_file('wronghost.pem'), key => data_file('wronghost.key'));

sub server_conf {
    my ($app, $extra) = @_;
    my $conf = $app eq 'jwt' ? coze_browse_location() . <<'_EOC_' : coze_server();
    location / {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
_EOC_
    $conf =~ s{(proxy_set_header X-Browse-Base [^\n]*\n)}
              {$1        proxy_set_header X-Browse-Pid \$pid;\n}
        or die "060-async.t: no /t location in coze_server()\n";
    return $conf . <<'_EOC_' . ($extra // '');
    location = /plain {
        return 200 "pid $pid\n";
    }
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config",
                      coze_http($block->app // 'web',
                                extra => $block->http_extra // ''))
        unless defined $block->http_config;
    $block->set_value("config", server_conf($block->app // 'web',
                                            $block->server_extra))
        unless defined $block->config;
    $block->set_value("request", "POST /t\n" . $block->scenario)
        if defined $block->scenario;
    scenario_defaults($block, 30);
});

# "--- exits: worker" / "--- exits: nginx": after the response, the process
# that served it (the old worker after a reload) or the whole nginx exits,
# with no [alert], [crit] or [emerg] logged meanwhile; after a reload the
# master holds as many descriptors as before it ("master_fds" saved by the
# scenario).
sub wait_for ($$) {
    my ($cond, $secs) = @_;
    my $end = Time::HiRes::time() + $secs;
    while (!$cond->()) {
        return 0 if Time::HiRes::time() > $end;
        Time::HiRes::sleep(0.02);
    }
    return 1;
}

sub alive ($) {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $st = <$fh>;
    close $fh;
    return $st =~ /\)\s+[^ZX]/ ? 1 : 0;
}

sub fd_count ($) {
    my $pid = shift;
    opendir my $d, "/proc/$pid/fd" or return -1;
    my $n = grep { !/^\./ } readdir $d;
    closedir $d;
    return $n;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $what = $block->exits;
    return unless defined $what && !$dry_run;
    $what =~ s/\s+//g;
    my $name = $block->name;
    my ($json) = $body =~ /\n\n(\{.*\})\s*$/s;
    my $vars = eval { JSON::PP::decode_json($json)->{vars} } || {};
    my $pid = $what eq 'nginx' ? $vars->{master_pid} : $vars->{nginx_pid};

    if (!$pid) {
        fail("$name - exits: no pid in the transcript");
        return;
    }

    ok(wait_for(sub { !alive($pid) }, 15),
       "$name - $what process $pid exits");

    if ($what eq 'worker') {
        my $master = $vars->{master_pid};
        my $want = $vars->{master_fds};
        my $got;
        ok(wait_for(sub { ($got = fd_count($master)) == $want }, 5),
           "$name - master $master holds $want descriptors after the reload")
            or diag("master $master: $got descriptors");
    }

    my @lines;
    if (open my $fh, '<', server_root() . '/logs/error.log') {
        @lines = <$fh>;
        close $fh;
    }
    my @bad = grep { /\[(?:alert|crit|emerg)\]/ } @lines;
    ok(!@bad, "$name - no [alert], [crit] or [emerg] while exiting")
        or diag(join "", @bad);

    # "--- exit_log eval": patterns logged by the time the process exited
    my $want = $block->exit_log;
    for my $re (ref $want eq 'ARRAY' ? @$want : defined $want ? ($want) : ()) {
        ok((grep { $_ =~ $re } @lines), "$name - logged before exiting: $re");
    }
});

run_tests();

__DATA__

=== TEST 1: one worker answers other requests while a code exchange waits on a slow token endpoint
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "grant_type": "authorization_code",
                                    "kind": "delay", "seconds": 3}}},
 {"label": "protected", "get": "/app/page", "expect": {"status": 302}},
 {"label": "authorize", "get": "${last.location}",
  "expect": {"status": 302, "location_re": "/oauth/callback\\?code="}, "save": {"cb": "location"}},
 {"parallel": [
   [{"label": "callback", "get": "${cb}",
     "expect": {"status": 302, "location_re": "/app/page$",
                "set_cookie": {"coze_session": {"present": true}}}}],
   [{"label": "exchange pending", "wait_until": {"requests": {"endpoint": "token", "count": 1}}},
    {"label": "other 1", "get": "/plain", "jar": false, "expect": {"status": 200, "body": "pid ${nginx_pid}\n"}},
    {"label": "other 2", "get": "/plain", "jar": false, "expect": {"status": 200, "body": "pid ${nginx_pid}\n"}},
    {"label": "other 3", "get": "/plain", "jar": false, "expect": {"status": 200, "body": "pid ${nginx_pid}\n"}}]],
  "expect": {"order": ["exchange pending", "other 1", "other 2", "other 3", "callback"]}},
 {"label": "signed in", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code": 1, "users_me": 1}}}
]}
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 2: the exchange times out (coze_auth_timeout 1s, token endpoint hangs): 504, one log line, the worker goes on
--- server_extra
    coze_auth_timeout 1s;
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "hang", "seconds": 30}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 504, "body_re": "Coze did not answer in time.*error: coze_unavailable",
             "header_re": {"Content-Type": "^text/html"}, "no_header": ["Location"],
             "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "next login", "jar": "b", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code": 2, "users_me": 1}}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, timed out: [^,]*, logid ""/,
 qr/\[error\] .*coze auth: login failed: code exchange: timed out/,
 'coze auth: user "7380000000000000001" signed in']



=== TEST 3: the token endpoint resets the connection: 502 coze_unavailable and the log line
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "reset"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "could not be reached.*error: coze_unavailable",
             "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "next login", "jar": "b", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, transfer failed: [^,]*reset[^,]*, logid ""/i,
 qr/\[error\] .*coze auth: login failed: code exchange: transfer failed/]



=== TEST 4: the API base points at a closed local port: 502 coze_unavailable, "cannot connect"
--- server_extra
    coze_auth_api_base http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/app/page", "expect": {"status": 302, "location_re": "^${mock}/"}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "error: coze_unavailable", "requests": {"token": 0}}},
 {"label": "the worker still serves", "get": "/plain", "expect": {"status": 200}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, cannot connect: [^,]*port \d+/,
 qr/\[error\] .*coze auth: login failed: code exchange: cannot connect/]



=== TEST 5: the token endpoint answers unreadable JSON: 502 coze_error, the log line names Coze's log id
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "malformed"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "error: coze_error", "body_not_re": "czu_trunc"}},
 {"label": "next login", "jar": "b", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}
--- error_log eval
[qr/\[error\] .*coze auth: login failed: code exchange: HTTP 200, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]
--- no_error_log
[alert]
[crit]
czu_trunc



=== TEST 6: TLS to Coze with coze_auth_ssl_trusted_certificate (the test CA): the login works
--- server_extra
    coze_auth_api_base https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_ssl_trusted_certificate $TEST_NGINX_DATA_DIR/ca.pem;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "login", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "over TLS", "get": "${mock}/__mock/requests?endpoint=token",
  "expect": {"json": {"0.tls": true}}}
]}
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 7: TLS to Coze with the system CAs only: the test CA is unknown, 502 and a TLS log line
--- server_extra
    coze_auth_api_base https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "error: coze_unavailable", "requests": {"token": 0}}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, TLS failure: [^,]*certificate/,
 qr/\[error\] .*coze auth: login failed: code exchange: TLS failure/]



=== TEST 8: TLS to Coze trusting an unrelated CA: 502 and a TLS log line
--- server_extra
    coze_auth_api_base https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_ssl_trusted_certificate $TEST_NGINX_DATA_DIR/other_ca.pem;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "error: coze_unavailable", "requests": {"token": 0}}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, TLS failure: [^,]*certificate/,
 qr/\[error\] .*coze auth: login failed: code exchange: TLS failure/]



=== TEST 9: TLS to a Coze whose certificate (from the trusted CA) names another host: 502, host name in the log line
--- server_extra
    coze_auth_api_base https://127.0.0.1:$TEST_NGINX_WRONGHOST_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_ssl_trusted_certificate $TEST_NGINX_DATA_DIR/ca.pem;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 502, "body_re": "error: coze_unavailable"}}
]}
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, TLS failure: [^,]*(?:host name|subject name)[^,]*'127\.0\.0\.1'/,
 qr/\[error\] .*coze auth: login failed: code exchange: TLS failure/]



=== TEST 10: coze_auth_ssl_verify off: the unknown CA is accepted and the login works
--- server_extra
    coze_auth_api_base https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_ssl_verify off;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "login", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}}
]}
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 11: coze_auth_proxy: calls go through the configured HTTP proxy (the API host does not resolve)
--- server_extra
    coze_auth_api_base http://coze-api.invalid;
    coze_auth_www_base http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_proxy http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "login", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "proxied", "get": "${mock}/__mock/requests?endpoint=users_me",
  "expect": {"json": {"0.headers.host": "coze-api.invalid"}}}
]}
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 12: the client goes away while the code exchange hangs: the transfer is cancelled, descriptors return to their count
--- server_extra
    coze_auth_timeout 60s;
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "hang", "seconds": 30}}},
 {"label": "before", "process": {"pid": "${nginx_pid}", "save": {"fds_before": "fds"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "abort", "abort": {"get": "${cb}",
                              "until": {"requests": {"endpoint": "token", "count": 1}}}},
 {"label": "after", "process": {"pid": "${nginx_pid}", "until": {"fds": "${fds_before}", "alive": true}}},
 {"label": "next login", "jar": "b", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}
--- error_log
coze auth curl: cancel



=== TEST 13: the client goes away while a JWT token call hangs: the task (not tied to the request) ends at its timeout, descriptors return to their count
--- app: jwt
--- http_extra
    coze_auth_jwt_session_name $arg_u;
--- server_extra
    coze_auth_timeout 2s;
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "hang", "seconds": 30}}},
 {"label": "before", "process": {"pid": "${nginx_pid}", "save": {"fds_before": "fds"}}},
 {"label": "abort", "abort": {"get": "/app/x?u=alice",
                              "until": {"requests": {"endpoint": "token", "count": 1}}}},
 {"label": "after", "process": {"pid": "${nginx_pid}", "until": {"fds": "${fds_before}", "alive": true},
                                "timeout": 8}},
 {"label": "next request", "get": "/app/y?u=bob",
  "expect": {"status": 200, "json": {"headers.authorization": {"re": "^Bearer czs_"}}}}
]}
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request failed: timed out/]


=== TEST 14: the client resets the connection while users/me hangs (the second call): cancelled, descriptors return to their count
--- server_extra
    coze_auth_timeout 60s;
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "users_me", "kind": "hang", "seconds": 30}}},
 {"label": "before", "process": {"pid": "${nginx_pid}", "save": {"fds_before": "fds"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"label": "abort", "abort": {"get": "${cb}", "rst": true,
                              "until": {"requests": {"endpoint": "users_me", "count": 1}}}},
 {"label": "after", "process": {"pid": "${nginx_pid}", "until": {"fds": "${fds_before}", "alive": true}}},
 {"label": "next login", "jar": "b", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token:authorization_code:200": 2, "users_me": 2}}}
]}
--- error_log
coze auth curl: cancel



=== TEST 15: keep-alive: three logins, six calls to Coze, one connection
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "login 1", "jar": "a", "get": "/app/1", "follow": true, "expect": {"status": 200}},
 {"label": "login 2", "jar": "b", "get": "/app/2", "follow": true, "expect": {"status": 200}},
 {"label": "login 3", "jar": "c", "get": "/app/3", "follow": true,
  "expect": {"status": 200,
             "requests": {"token:authorization_code:200": 3, "users_me": 3,
                          "connections:token|users_me": 1}}}
]}



=== TEST 16: reload (HUP) while a code exchange is in flight: the call completes, the old worker then exits
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "grant_type": "authorization_code",
                                    "kind": "delay", "seconds": 2}}},
 {"label": "master", "process": {"pid": "${nginx_pid}", "parent": true,
                                 "save": {"master_pid": "pid", "master_fds": "fds"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"parallel": [
   [{"label": "callback", "get": "${cb}",
     "expect": {"status": 302, "set_cookie": {"coze_session": {"present": true}}}}],
   [{"label": "in flight", "wait_until": {"requests": {"endpoint": "token", "count": 1}}},
    {"label": "HUP", "process": {"pid": "${master_pid}", "signal": "HUP"}}]],
  "expect": {"order": ["in flight", "HUP", "callback"]}},
 {"label": "new worker, same session", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}
--- exits: worker
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 17: graceful shutdown (QUIT) while a code exchange is in flight: the call completes, then nginx exits
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "grant_type": "authorization_code",
                                    "kind": "delay", "seconds": 2}}},
 {"label": "master", "process": {"pid": "${nginx_pid}", "parent": true, "save": {"master_pid": "pid"}}},
 {"get": "/app/page", "expect": {"status": 302}},
 {"get": "${last.location}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"parallel": [
   [{"label": "callback", "get": "${cb}",
     "expect": {"status": 302, "set_cookie": {"coze_session": {"present": true}}}}],
   [{"label": "in flight", "wait_until": {"requests": {"endpoint": "token", "count": 1}}},
    {"label": "QUIT", "process": {"pid": "${master_pid}", "signal": "QUIT"}}]],
  "expect": {"order": ["in flight", "QUIT", "callback"]}},
 {"label": "users/me done too", "get": "${mock}/__mock/counts",
  "expect": {"json": {"users_me": 1}}}
]}
--- exits: nginx
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 18: graceful shutdown (QUIT) while a JWT task hangs and its client is gone: the worker finishes the task at its timeout, then exits
--- app: jwt
--- http_extra
    coze_auth_jwt_session_name $arg_u;
--- server_extra
    coze_auth_timeout 2s;
--- scenario
{"steps": [
 {"mock": {"reset": true, "fault": {"endpoint": "token", "kind": "hang", "seconds": 30}}},
 {"label": "master", "process": {"pid": "${nginx_pid}", "parent": true, "save": {"master_pid": "pid"}}},
 {"label": "abort", "abort": {"get": "/app/x?u=alice",
                              "until": {"requests": {"endpoint": "token", "count": 1}}}},
 {"label": "QUIT", "process": {"pid": "${master_pid}", "signal": "QUIT"}}
]}
--- exits: nginx
--- exit_log eval
[qr/\[error\] .*coze auth: jwt token request failed: timed out/,
 qr/\[notice\] .*exit$/]
