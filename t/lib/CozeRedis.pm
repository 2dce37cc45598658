package CozeRedis;

# Redis and a second nginx ("node B") for the multi-node tests
# (t/070-redis.t, t/072-redis-session.t).  Load it FIRST, so that a machine
# without redis-server skips the file before the mock is started:
#
#   use lib 't/lib';
#   use CozeRedis;          # prints "1..0 # SKIP" and exits without redis-server
#   use CozeTest;
#   use CozeConf;
#   use Test::Nginx::Socket 'no_plan';
#
#   redis_setup(http => "    coze_auth_session_store redis;\n",
#               server => "    location = /admin/revoke { ... }\n");
#
# redis_setup(%node_b) picks free loopback ports, starts the Redis control
# process (below), which starts redis-server, then starts node B, and
# exports TEST_NGINX_REDIS_PORT, TEST_NGINX_NODE_B ("http://127.0.0.1:PORT")
# and TEST_NGINX_REDIS_CTL (the control process' "http://127.0.0.1:PORT").
#
# redis-server runs with no persistence (--save '' --appendonly no): a
# restart loses every key, as a lost Redis would.  It is owned by a small
# forked control process, not by the test process, so that a scenario run
# by the mock's browser driver can stop and start it in the middle of its
# steps (Test::Nginx gives a block's Perl code no way in between).  The
# control process speaks HTTP, one request per connection:
#   GET /__start, /__stop     start / stop redis-server (idempotent; the
#                             answer comes once the port is open / closed)
#   GET /__freeze/MS          SIGSTOP redis-server now, SIGCONT in MS ms:
#                             the kernel still accepts connections, nothing
#                             is answered meanwhile (a stalled Redis)
#   GET /CMD/arg/arg...       a Redis command, arguments percent-decoded,
#   POST / ["CMD","arg",...]  e.g. /KEYS/coze_auth:session:*  /TTL/${key}
#   GET /__await_reply/WANT/CMD/arg...
#                             repeats the command until its reply is WANT
#                             (up to 8 s): 200, or 504 with the last reply;
#                             for what nginx writes without waiting
#   GET /__log_size/A|B       the size of node A's or B's error.log
#   GET /__await_log/A|B/FROM/N/REGEX
#                             waits (up to 8 s) until the log has N lines
#                             matching REGEX after byte FROM: 200, or 504
# and answers JSON: 200 {"reply": value} (see redis_cmd for the value),
# 200 {"error": "ERR ..."} for a Redis error reply, 503 {"error": ...}
# when Redis cannot be reached.  It exits with the test process.
#
# Node B is a second nginx from a generated configuration (its own prefix
# "$TEST_NGINX_SERVROOT-b", port, master and 2 workers), started once and
# never reloaded, so it is the one that proves recovery "without reload".
# Its configuration is CozeConf's: coze_http('web') plus
#   coze_auth_redis 127.0.0.1:$RedisPort timeout=500ms;
# and coze_server(); node_b options (to redis_setup or node_b_start):
#   redis     => the coze_auth_redis parameters instead of timeout=500ms
#   http      => more http-level directives (after coze_auth_redis)
#   server    => more server-level configuration (after the usual locations)
#   protected => the protected location's extra lines; default: an
#                "X-Node: B" response header and the token as X-Token
#                upstream ($Protected_B)
#
# Exported (into the caller's package, main for the tests, so "--- init"
# and eval sections can say main::redis_stop() and $main::RedisPort):
#   redis_setup(%node_b)      all of the above
#   redis_start(), redis_stop(), redis_freeze($ms)  through the control
#                             process
#   redis_cmd(@args)          one command over RESP, returns a Perl value
#   redis_cmds($port, [@cmd], ...)  several on one connection, any server
#   redis_spawn(@args)        another redis-server (stopped at exit): port
#   servroot_path($suffix)    "$TEST_NGINX_SERVROOT$suffix"
#   free_port(), wait_port($port, $up)
#   node_b_start(%node_b), node_b_conf(%node_b), node_b_url()
#                             node_b_start again: stops the running node B
#                             and starts it anew (its error.log goes on)
#   node_b_errors([$from])    node B's error.log (from byte offset $from)
#   node_b_log_size()         its current size, for node_b_errors($from)
#   await_log($node, $from, $count, $re[, $timeout])  see the function
#   await_clients($count[, $timeout])  see the function
#   expand_nodes($text)       replaces ${B} with node B's URL and ${R} with
#                             the control process' URL (for scenarios)
#   $RedisPort $NodeBPort $NodeBRoot $NodeBPid $RedisCtlPort

use strict;
use warnings;

use CozeTest ();
use CozeConf ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep);

our ($RedisBin, $RedisPort, $RedisPid, $RedisCtlPort, $RedisCtlPid,
     $NodeBPort, $NodeBPid, $NodeBRoot);

our $Protected_B = "        add_header X-Node B always;\n"
                 . "        proxy_set_header X-Token \$coze_access_token;";

our @EXPORT_FUNCS = qw(redis_setup redis_start redis_stop redis_freeze
                       redis_cmd free_port wait_port node_b_start node_b_conf
                       node_b_url node_b_errors node_b_log_size expand_nodes
                       await_log await_clients redis_cmds redis_spawn
                       servroot_path);
our @EXPORT_VARS = qw(RedisPort NodeBPort NodeBRoot NodeBPid RedisCtlPort);

our $Owner = $$;     # only the test process stops what it started
my $Json = JSON::PP->new->canonical->allow_nonref->ascii;

sub import {
    my $caller = caller;
    if (!$RedisBin) {
        for my $d (split(/:/, $ENV{PATH} || ''), '/usr/bin', '/usr/sbin') {
            if (-x "$d/redis-server") { $RedisBin = "$d/redis-server"; last }
        }
    }
    if (!$RedisBin) {
        print "1..0 # SKIP redis-server not found "
              . "(apt-get install redis-server)\n";
        exit 0;
    }
    no strict 'refs';
    *{"${caller}::$_"} = \&{"CozeRedis::$_"} for @EXPORT_FUNCS;
    *{"${caller}::$_"} = \${"CozeRedis::$_"} for @EXPORT_VARS;
}

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

sub _servroot {
    my $sr = $ENV{TEST_NGINX_SERVROOT} || CozeTest::repo_root() . '/t/servroot';
    $sr =~ s{/+$}{};
    return $sr;
}

# --- RESP ------------------------------------------------------------------

sub _read_exact {
    my ($s, $len) = @_;
    my $buf = '';
    while (length($buf) < $len) {
        my $n = read($s, $buf, $len - length($buf), length $buf);
        die "connection closed\n" unless $n;
    }
    return $buf;
}

# one reply: simple string and bulk string -> string, integer -> number,
# nil -> undef, array -> array ref; an error reply dies with its text
# (inside an array it becomes {error => text})
sub _resp_read {
    my ($s, $nested) = @_;
    my $line = <$s>;
    die "connection closed\n" unless defined $line;
    $line =~ s/\r?\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+';
    return 0 + $v if $t eq ':';
    if ($t eq '-') {
        return { error => $v } if $nested;
        die "redis: $v\n";
    }
    if ($t eq '$') {
        return undef if $v < 0;
        return substr(_read_exact($s, $v + 2), 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _resp_read($s, 1) } 1 .. $v ];
    }
    die "bad RESP reply line \"$line\"\n";
}

# redis_cmd('KEYS', 'coze_auth:session:*') -> ['coze_auth:session:...']
# In list context: ($value, $error); $error is set (and $value undef) when
# Redis cannot be reached or answers with an error reply.
sub redis_cmd {
    my @args = @_;
    return redis_cmds($RedisPort, \@args);
}

# redis_cmds($port, [cmd, args...], ...): the commands in order on one
# connection (e.g. AUTH, SELECT, then KEYS); the last one's reply, as
# redis_cmd.  An error reply to any of them is the error.
sub redis_cmds {
    my ($port, @cmds) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port, Timeout => 2)
        or return wantarray ? (undef, "cannot connect: $!") : undef;
    binmode $s;
    my ($v, $err);
    for my $args (@cmds) {
        my $req = '*' . scalar(@$args) . "\r\n";
        $req .= '$' . length($_) . "\r\n$_\r\n" for @$args;
        print $s $req;
        $v = eval { _resp_read($s) };
        $err = $@;
        last if $err;
    }
    close $s;
    chomp $err if defined $err;
    return wantarray ? ($v, $err || undef) : $v;
}

# another redis-server, owned by the test process and stopped at its exit,
# e.g. redis_spawn('--requirepass', 'secret'): its port
our @Spawned;

sub redis_spawn {
    my (@args) = @_;
    my $port = free_port();
    push @Spawned, _redis_exec($port, @args);
    return $port;
}

# redis-server on loopback without persistence, its output in
# servroot-redis.log; returns its pid once the port is open
sub _redis_exec {
    my ($port, @args) = @_;
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>>', _servroot() . '-redis.log';
        open STDERR, '>&', \*STDOUT;
        exec($RedisBin, '--port', $port, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--daemonize', 'no',
             '--dir', '/tmp', @args)
            or POSIX::_exit(127);
    }
    wait_port($port, 1) or die "redis-server did not start\n";
    return $pid;
}

# --- redis-server and its control process ----------------------------------

# in the control process
sub _redis_start_here {
    return if $RedisPid && waitpid($RedisPid, POSIX::WNOHANG()) == 0;
    $RedisPid = _redis_exec($RedisPort);
}

# when a frozen redis-server is due to go on (time), 0 when it is not frozen
our $ThawAt = 0;

sub _redis_thaw_here {
    return unless $ThawAt;
    kill 'CONT', $RedisPid if $RedisPid;
    $ThawAt = 0;
}

sub _redis_freeze_here {
    my ($ms) = @_;
    die "redis-server is not running\n" unless $RedisPid;
    kill 'STOP', $RedisPid;
    $ThawAt = Time::HiRes::time() + $ms / 1000;
}

sub _redis_stop_here {
    return unless $RedisPid;
    _redis_thaw_here();
    kill 'TERM', $RedisPid;
    waitpid($RedisPid, 0);
    $RedisPid = undef;
    wait_port($RedisPort, 0);
}

sub _ctl_reply {
    my ($c, $status, $obj) = @_;
    my $body = $Json->encode($obj);
    print $c "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

sub _ctl_handle {
    my ($c) = @_;
    binmode $c;
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 10;
    my $in = '';
    while ($in !~ /\r?\n\r?\n/) {
        my $n = sysread($c, $in, 8192, length $in);
        die "short request\n" unless $n;
    }
    my ($head, $body) = split /\r?\n\r?\n/, $in, 2;
    my $len = $head =~ /^content-length:\s*(\d+)/mi ? $1 : 0;
    while (length($body) < $len) {
        my $n = sysread($c, $body, $len - length($body), length $body);
        die "short body\n" unless $n;
    }
    alarm 0;
    my ($method, $target) = $head =~ /^(\S+)\s+(\S+)/
        or return _ctl_reply($c, 400, { error => 'bad request line' });
    $target =~ s/\?.*//s;
    my @cmd = map { my $x = $_; $x =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $x }
              grep { length } split m{/}, $target;
    if ($method eq 'POST' && length $body) {
        my $a = eval { $Json->decode($body) };
        return _ctl_reply($c, 400, { error => 'body: a JSON array expected' })
            unless ref $a eq 'ARRAY';
        @cmd = @$a;
    }
    return _ctl_reply($c, 400, { error => 'no command' }) unless @cmd;
    if ($cmd[0] eq '__log_size' && @cmd == 2) {
        return _ctl_reply($c, 200, { reply => -s _log_path($cmd[1]) || 0 });
    }
    if ($cmd[0] eq '__await_log' && @cmd == 5) {
        my $seen = await_log(@cmd[1 .. 4], 8);
        return _ctl_reply($c, $seen >= $cmd[3] ? 200 : 504,
                          { reply => $seen });
    }
    if ($cmd[0] eq '__await_reply' && @cmd >= 3) {
        my (undef, $want, @c) = @cmd;
        my $deadline = Time::HiRes::time() + 8;
        my $v;
        while (1) {
            $v = redis_cmd(@c);
            last if defined $v && !ref $v && $v eq $want;
            return _ctl_reply($c, 504, { reply => $v })
                if Time::HiRes::time() > $deadline;
            sleep 0.02;
        }
        return _ctl_reply($c, 200, { reply => $v });
    }
    if ($cmd[0] eq '__freeze' && @cmd == 2 && $cmd[1] =~ /^\d+$/) {
        eval { _redis_freeze_here($cmd[1]) };
        return _ctl_reply($c, 500, { error => "$@" }) if $@;
        return _ctl_reply($c, 200, { reply => 'frozen' });
    }
    if ($cmd[0] eq '__start' || $cmd[0] eq '__stop') {
        _redis_thaw_here();
        eval { $cmd[0] eq '__start' ? _redis_start_here() : _redis_stop_here() };
        return _ctl_reply($c, 500, { error => "$@" }) if $@;
        return _ctl_reply($c, 200, { reply => $RedisPid ? 'running' : 'stopped',
                                     pid => $RedisPid });
    }
    my ($v, $err) = redis_cmd(@cmd);
    return _ctl_reply($c, 503, { error => $err }) if $err && $err =~ /^cannot/;
    return _ctl_reply($c, 200, { error => $err }) if $err;
    return _ctl_reply($c, 200, { reply => $v });
}

sub _ctl_serve {
    my ($listener, $parent) = @_;
    $SIG{$_} = 'DEFAULT' for qw(INT HUP);    # not CozeTest's: no END here
    $SIG{PIPE} = 'IGNORE';
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };
    my $sel = IO::Select->new($listener);
    # also ends when the test process is gone, however it ended
    while (!$stop && getppid() == $parent) {
        my $wait = 0.5;
        if ($ThawAt) {
            my $left = $ThawAt - Time::HiRes::time();
            if ($left <= 0) {
                _redis_thaw_here();
            } elsif ($left < $wait) {
                $wait = $left;
            }
        }
        next unless $sel->can_read($wait);
        my $c = $listener->accept or next;
        eval { _ctl_handle($c) };
        alarm 0;
        close $c;
    }
    _redis_stop_here();
    POSIX::_exit(0);
}

sub _ctl_start {
    my $l = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "control listener: $!\n";
    $RedisCtlPort = $l->sockport;
    my $parent = $$;
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        eval { _ctl_serve($l, $parent) };
        POSIX::_exit(1);
    }
    close $l;
    $RedisCtlPid = $pid;
    $ENV{TEST_NGINX_REDIS_CTL} = "http://127.0.0.1:$RedisCtlPort";
}

# a request to the control process: the decoded JSON answer
sub _ctl_call {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $RedisCtlPort, Timeout => 10)
        or die "redis control process: $!\n";
    print $s "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    local $/;
    my $res = <$s>;
    close $s;
    my ($status, $body) = ($res // '') =~ m{^HTTP/\S+ (\d+).*?\r\n\r\n(.*)}s
        or die "redis control process: no answer to $path\n";
    my $obj = $Json->decode($body);
    die "redis control process: $path: $status $obj->{error}\n"
        if $status != 200;
    return $obj;
}

sub redis_start { _ctl_call('/__start') }
sub redis_stop  { _ctl_call('/__stop') if $RedisCtlPid }
sub redis_freeze { _ctl_call("/__freeze/$_[0]") }

# --- node B ----------------------------------------------------------------

sub node_b_url { "http://127.0.0.1:$NodeBPort" }

sub node_b_conf {
    my (%opt) = @_;
    my $conf = CozeConf::coze_http($opt{app} || 'web')
             . "    coze_auth_redis 127.0.0.1:$RedisPort "
             . ($opt{redis} // 'timeout=500ms') . ";\n"
             . ($opt{http} // '');
    my $server = CozeConf::coze_server(
        protected => $opt{protected} // $Protected_B) . ($opt{server} // '');
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
    my (%opt) = @_;
    if ($NodeBPid) {
        kill 'QUIT', $NodeBPid;
        waitpid($NodeBPid, 0);
        $NodeBPid = undef;
        wait_port($NodeBPort, 0);
    } else {
        $NodeBRoot = _servroot() . '-b';
        system('rm', '-rf', $NodeBRoot);
    }
    mkdir $NodeBRoot;
    mkdir "$NodeBRoot/$_" for qw(logs conf);
    open my $fh, '>', "$NodeBRoot/conf/nginx.conf" or die "$!\n";
    print $fh node_b_conf(%opt);
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

sub node_b_log_size { -s "$NodeBRoot/logs/error.log" || 0 }

# a path beside the server root, for files the runner must not delete
sub servroot_path {
    my ($suffix) = @_;
    return _servroot() . $suffix;
}

# node "A" (the runner's nginx) or "B": its error.log
sub _log_path {
    my ($node) = @_;
    return _servroot() . ($node eq 'B' ? '-b' : '') . '/logs/error.log';
}

# waits until the node's error.log has $count lines matching $re after
# byte $from, or $timeout seconds; returns how many it saw.  This is how a
# test knows that every worker has reconnected to Redis: each one logs
# "is available again" when its connection is ready.
sub await_log {
    my ($node, $from, $count, $re, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 8);
    my $seen = 0;
    while (1) {
        if (open my $fh, '<', _log_path($node)) {
            seek $fh, $from, 0;
            $seen = grep { /$re/ } <$fh>;
            close $fh;
        }
        return $seen if $seen >= $count || Time::HiRes::time() > $deadline;
        sleep 0.05;
    }
}

# waits until redis-server has $count client connections besides the one
# asking, or $timeout seconds; returns how many it saw.  For a node whose
# workers started while Redis was down (the runner's node A, restarted for
# each block): they may not have failed yet when Redis comes back, so they
# do not all log "is available again"; their connections are what counts.
sub await_clients {
    my ($count, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 8);
    my $seen = 0;
    while (1) {
        my $list = redis_cmd('CLIENT', 'LIST');
        $seen = defined $list && !ref $list
              ? grep { !/ cmd=client(?:\|list)? / } split /\n/, $list
              : 0;
        return $seen if $seen >= $count || Time::HiRes::time() > $deadline;
        sleep 0.05;
    }
}

sub node_b_errors {
    my ($from) = @_;
    open my $fh, '<', "$NodeBRoot/logs/error.log" or return '';
    seek $fh, $from, 0 if $from;
    local $/;
    my $log = <$fh>;
    close $fh;
    return $log // '';
}

sub redis_setup {
    my (%node_b) = @_;
    $RedisPort = free_port();
    $NodeBPort = free_port();
    $ENV{TEST_NGINX_REDIS_PORT} = $RedisPort;
    $ENV{TEST_NGINX_NODE_B} = node_b_url();
    _ctl_start();
    redis_start();
    node_b_start(%node_b);
}

sub expand_nodes {
    my ($s) = @_;
    $s =~ s/\$\{B\}/node_b_url()/ge;
    $s =~ s/\$\{R\}/http:\/\/127.0.0.1:$RedisCtlPort/g;
    return $s;
}

END {
    if ($$ == $Owner) {
        local $?;
        if ($NodeBPid) {
            kill 'QUIT', $NodeBPid;
            waitpid($NodeBPid, 0);
        }
        for my $pid (@Spawned) {
            kill 'TERM', $pid;
            waitpid($pid, 0);
        }
        if ($RedisCtlPid) {
            kill 'TERM', $RedisCtlPid;    # it stops redis-server first
            waitpid($RedisCtlPid, 0);
        }
    }
}

1;
