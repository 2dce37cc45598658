# Redis (issue 10): cross-node single-flight refresh between two nginx
# instances sharing the session key and a real redis-server on loopback,
# and the fallback to per-node coordination while Redis is down.
#
# Node A is the nginx the runner starts for each block; node B is a second
# nginx started here, once, from a generated configuration (its own prefix
# "$TEST_NGINX_SERVROOT-b", port, master and 2 workers) and never reloaded:
# it is the one that proves recovery "without reload".  redis-server runs
# on a free port with no persistence and is stopped/started by the blocks'
# "init" sections.  Cookies are host-only for 127.0.0.1, so the browser
# driver's jar sends A's session cookie to B as a browser would.
#
# Not covered (not implemented): coze_auth_session_store redis, logout
# ending a session on every node, coze_auth_revoke.

our ($RedisBin, $RedisPort, $RedisPid, $NodeBPort, $NodeBPid, $NodeBRoot);

BEGIN {
    for my $d (split(/:/, $ENV{PATH} || ''), '/usr/bin', '/usr/sbin') {
        if (-x "$d/redis-server") { $RedisBin = "$d/redis-server"; last }
    }
    if (!$RedisBin) {
        print "1..0 # SKIP redis-server not found "
              . "(apt-get install redis-server)\n";
        exit 0;
    }
}

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub wait_port {
    my ($port, $up) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        my $is_up = $s ? 1 : 0;
        close $s if $s;
        return 1 if $is_up == $up;
        sleep 0.05;
    }
    return 0;
}

sub redis_start {
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>>', ($ENV{TEST_NGINX_SERVROOT} || 't/servroot')
                           . '-redis.log';
        open STDERR, '>&', \*STDOUT;
        exec($RedisBin, '--port', $RedisPort, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--daemonize', 'no',
             '--dir', '/tmp')
            or POSIX::_exit(127);
    }
    $RedisPid = $pid;
    wait_port($RedisPort, 1) or die "redis-server did not start\n";
}

sub redis_stop {
    return unless $RedisPid;
    kill 'TERM', $RedisPid;
    waitpid($RedisPid, 0);
    $RedisPid = undef;
    wait_port($RedisPort, 0);
}

# a RESP command over a socket: returns the raw reply line(s)
sub redis_cmd {
    my @args = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $RedisPort, Timeout => 2)
        or return undef;
    my $req = '*' . scalar(@args) . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print $s $req;
    my $line = <$s>;
    close $s;
    return $line;
}

sub node_b_conf {
    my $conf = CozeConf::coze_http('web')
             . "    coze_auth_redis 127.0.0.1:$RedisPort timeout=500ms;\n";
    my $server = CozeConf::coze_server(protected =>
        "        add_header X-Node B always;\n"
        . "        proxy_set_header X-Token \$coze_access_token;");
    my $load = '';
    if ($ENV{TEST_NGINX_LOAD_MODULES}) {
        $load .= "load_module $_;\n"
            for split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
    }
    my $user = $> == 0 ? "user root;\n" : '';
    my $r = $NodeBRoot;
    my $c = <<"_EOC_";
$load$user
worker_processes 2;
daemon off;
master_process on;
pid $r/logs/nginx.pid;
error_log $r/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $r/client_body_temp;
    proxy_temp_path $r/proxy_temp;
    fastcgi_temp_path $r/fastcgi_temp;
    scgi_temp_path $r/scgi_temp;
    uwsgi_temp_path $r/uwsgi_temp;
$conf
    server {
        listen 127.0.0.1:$NodeBPort;
$server
    }
}
_EOC_
    $c =~ s/\$(TEST_NGINX_\w+)/$ENV{$1}/g;
    return $c;
}

sub node_b_start {
    $NodeBRoot = ($ENV{TEST_NGINX_SERVROOT} || CozeTest::repo_root()
                  . '/t/servroot') . '-b';
    system('rm', '-rf', $NodeBRoot);
    mkdir $NodeBRoot;
    mkdir "$NodeBRoot/$_" for qw(logs conf);
    open my $fh, '>', "$NodeBRoot/conf/nginx.conf" or die "$!\n";
    print $fh node_b_conf();
    close $fh;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>>', "$NodeBRoot/logs/stderr.log";
        exec($bin, '-p', "$NodeBRoot/", '-c', "$NodeBRoot/conf/nginx.conf",
             '-e', "$NodeBRoot/logs/error.log")
            or POSIX::_exit(127);
    }
    $NodeBPid = $pid;
    wait_port($NodeBPort, 1) or die "node B did not start, see "
                                    . "$NodeBRoot/logs/error.log\n";
}

sub node_b_errors {
    open my $fh, '<', "$NodeBRoot/logs/error.log" or return '';
    local $/;
    my $log = <$fh>;
    close $fh;
    return $log;
}

our $Owner = $$;

END {
    if ($$ == $Owner) {
        if ($NodeBPid) {
            kill 'QUIT', $NodeBPid;
            waitpid($NodeBPid, 0);
        }
        redis_stop();
    }
}

$RedisPort = free_port();
$NodeBPort = free_port();
$ENV{TEST_NGINX_REDIS_PORT} = $RedisPort;
$ENV{TEST_NGINX_NODE_B} = "http://127.0.0.1:$NodeBPort";

redis_start();
node_b_start();

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
        $s =~ s/\$\{B\}/http:\/\/127.0.0.1:$NodeBPort/g;
        $block->set_value("request", "POST /t\n$s");
    }
    $block->set_value("response_body_like", "^PASS \\d+ checks\n")
        unless defined $block->response_body_like;
    $block->set_value("error_code", 200) unless defined $block->error_code;
    $block->set_value("timeout", 60) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n[emerg]\n")
        unless defined $block->no_error_log;
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
sleep 3.5;
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"access_ttl": 30}}},
 LOGIN
 {"mock": {"config": {"access_ttl": 900}}},
 {"set": {"old": "${cookie.main.coze_session}"}},
 {"parallel": [
   [{"label": "storm A", "repeat": 10, "concurrency": 10,
     "request": {"get": "/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200,
                    "json": {"headers.x-coze-result": "refreshed"}}}],
   [{"label": "storm B", "repeat": 10, "concurrency": 10,
     "request": {"get": "${B}/app/storm", "jar": false,
                 "headers": {"Cookie": "coze_session=${old}"}},
     "expect_all": {"status": 200,
                    "json": {"headers.x-coze-result": "refreshed"}}}]
 ]},
 {"label": "one refresh across both nodes", "get": "${mock}/__mock/secrets",
  "jar": false, "expect": {"requests": {"token:refresh_token": 1}}}
]}
