package Test::Nginx::Util;

# Bundled, compatible subset of OpenResty's Test::Nginx::Util: global
# settings, server root and nginx.conf generation, starting and stopping
# nginx (optionally under valgrind), error log access.  Core Perl only.
#
# Used only when the real Test::Nginx is not installed (prove -I t/compat).
# The HTTP side and the per-block checks live in Test::Nginx::Socket.

use strict;
use warnings;

our $VERSION = '0.33_compat';

use base 'Exporter';

use Carp qw(croak);
use Cwd qw(cwd);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET;
use List::Util qw(shuffle);
use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use Config ();

use Test::More ();
use Test::Nginx::Compat::Blocks ();

# --- settings (names as upstream, so .t files poking at them still work) ---

our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $RepeatEach           = 1;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $NginxBinary          = $ENV{TEST_NGINX_BINARY};
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput       = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $CheckLeak            = 0;     # TEST_NGINX_CHECK_LEAK is ignored here
our $Benchmark            = 0;
our $NoNginxManager       = 0;
our $UseHup               = 0;
our $UseStap              = 0;
our $ConfigPreamble       = '';
our $FilterHttpConfig;
our $RunTestHelper;
our $CheckErrorLog;
our $CheckShutdownErrorLog;
our $NginxVersion;
our $NginxRawVersion;
our $OpenSSLVersion;
our $PcreVersion;
our $ErrLogFilePos = 0;
our $RandPorts = {};
our $ChildPid;          # nginx run in the foreground (valgrind mode)
our $InSubprocess;
our $PrevBlock;
our $StderrFile;
our $PrevConfig;

our (@BlockPreprocessors, @EnvToNginx, @CleanupHandlers, @TestCleanupHandlers);

for my $v (qw(TEST_NGINX_CHECK_LEAK TEST_NGINX_USE_HUP TEST_NGINX_USE_STAP
              TEST_NGINX_BENCHMARK TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3
              TEST_NGINX_RANDOMIZE))
{
    if ($ENV{$v} && $v ne 'TEST_NGINX_CHECK_LEAK') {
        warn "WARNING: $v is not supported by the bundled Test::Nginx "
           . "runner and is ignored\n";
    }
}

our $ServRoot   = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ServRoot = File::Spec->rel2abs($ServRoot);
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catfile($ServRoot, 'cache');

# valgrind: nginx runs in the foreground (upstream does the same)
if ($UseValgrind) {
    $DaemonEnabled = 'off';
}

our @EXPORT = qw(
    expand_env_in_text env_to_nginx is_str check_accum_error_log is_running
    no_long_string server_addr server_name parse_time verbose sleep_time
    bail_out add_cleanup_handler add_test_cleanup_handler error_log_data
    access_log_data setup_server_root write_config_file get_canon_version
    get_nginx_version trim show_all_chars parse_headers run_tests
    get_pid_from_pidfile add_block_preprocessor timeout worker_connections
    workers master_on master_off config_preamble repeat_each
    master_process_enabled log_level no_shuffle no_root_location html_dir
    server_root server_port server_port_for_client no_nginx_manager use_hup
    is_tcp_port_used
    $NoLongString $ServerAddr $ServerName $UseStap $ServerPortForClient
    $ServerPort $NginxVersion $PcreVersion $PidFile $ServRoot $ConfFile
    $RunTestHelper $CheckErrorLog $CheckShutdownErrorLog $FilterHttpConfig
    $NoNginxManager $RepeatEach $CheckLeak $Benchmark
);

# --- small setters/getters ------------------------------------------------

sub no_long_string ()  { $NoLongString = 1 }
sub no_shuffle ()      { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub no_nginx_manager () { warn "WARNING: no_nginx_manager() is not supported by the bundled runner\n" }
sub use_hup ()         { warn "WARNING: use_hup() is not supported by the bundled runner\n" }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()       { $MasterProcessEnabled = 'on' }
sub master_off ()      { $MasterProcessEnabled = 'off' }
sub config_preamble ($) { $ConfigPreamble = shift }
sub sleep_time         { $TestNginxSleep }
sub verbose            { $Verbose }
sub html_dir ()        { $HtmlDir }
sub server_root ()     { $ServRoot }

sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = shift() ? 'on' : 'off'; return }
    return $MasterProcessEnabled;
}

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub workers (@)            { if (@_) { $Workers = shift; return } $Workers }
sub worker_connections (@) { if (@_) { $WorkerConnections = shift; return } $WorkerConnections }
sub log_level (@)          { if (@_) { $LogLevel = shift; return } $LogLevel }
sub timeout (@)            { if (@_) { $Timeout = shift; return } $Timeout }
sub server_addr (@)        { if (@_) { $ServerAddr = shift; return } $ServerAddr }
sub server_name (@)        { if (@_) { $ServerName = shift; return } $ServerName }
sub server_port (@)        { if (@_) { $ServerPort = shift; return } $ServerPort }
sub server_port_for_client (@) { if (@_) { $ServerPortForClient = shift; return } $ServerPortForClient }

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)      { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_running ($) {
    my $pid = shift;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    return 0 unless kill 0, $pid;
    # A daemonised nginx is re-parented; until whoever adopted it reaps it,
    # it lingers as a zombie that kill(0) still reports.  It is gone for us.
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh>;
        close $fh;
        if (defined $stat && $stat =~ /^\d+ \(.*\) (\S)/s) {
            return 0 if $1 eq 'Z' || $1 eq 'X';
        }
    }
    return 1;
}

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } elsif ($tm =~ s/([^_a-zA-Z])s$/$1/) {
            # seconds
        }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

sub parse_headers ($) {
    my $s = shift;
    my %headers;
    my @order;
    # Like upstream (a hash): a repeated name counts once, with its last
    # value; an empty line inside the section becomes an "absent" check of
    # the empty name (upstream does the same, so the test counts agree).
    for my $line (split /\n/, defined $s ? $s : '') {
        $line =~ s/^\s+|\s+$//g;
        my ($key, $val);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $val) = split /\s*:\s*/, $line, 2;
            $key = '' unless defined $key;
        }
        push @order, $key unless exists $headers{$key};
        $headers{$key} = $val;
    }
    # keep the order of appearance for nicer TAP output
    return wantarray ? (\%headers, \@order) : \%headers;
}

# --- diagnostics helpers --------------------------------------------------

sub _excerpt {
    my ($s, $max) = @_;
    return 'undef' unless defined $s;
    $max ||= 1024;
    my $len = length $s;
    my $cut = $len > $max ? substr($s, 0, $max) : $s;
    $cut =~ s/([\x00-\x08\x0b-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
    $cut =~ s/\r/\\r/g;
    $cut .= "... (" . ($len - $max) . " more bytes)" if $len > $max;
    return "\"$cut\"";
}

sub _describe_difference {
    my ($got, $exp) = @_;
    my $n = length($got) < length($exp) ? length($got) : length($exp);
    my $i = 0;
    $i++ while $i < $n && substr($got, $i, 1) eq substr($exp, $i, 1);
    my $line = 1 + (substr($exp, 0, $i) =~ tr/\n//);
    my $ctx = sub {
        my $s = shift;
        my $from = $i > 20 ? $i - 20 : 0;
        my $frag = substr($s, $from, 60);
        $frag = show_all_chars($frag);
        return ($from > 0 ? '...' : '') . $frag . ($from + 60 < length $s ? '...' : '');
    };
    return "first difference at offset $i (line $line)\n"
         . "      got around there: " . $ctx->($got) . "\n"
         . "  expected around there: " . $ctx->($exp) . "\n"
         . "  length: got " . length($got) . ", expected " . length($exp);
}

# is() with a readable, bounded diagnostic (first 1 KB + first difference);
# with no_long_string() it is plain Test::More::is.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (ref $expected && ref $expected eq 'Regexp') {
        return like_str($got, $expected, $desc);
    }

    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }

    my $ok = (!defined $got && !defined $expected)
          || (defined $got && defined $expected && $got eq $expected);
    Test::More::ok($ok, $desc);
    if (!$ok) {
        my $msg = "         got: " . _excerpt($got) . "\n"
                . "    expected: " . _excerpt($expected);
        if (defined $got && defined $expected) {
            $msg .= "\n  " . _describe_difference($got, $expected);
        }
        Test::More::diag($msg);
    }
    return $ok;
}

sub like_str {
    my ($got, $re, $desc, $negate) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $matched = defined $got && $got =~ $re;
    my $ok = $negate ? !$matched : $matched;
    Test::More::ok($ok, $desc);
    if (!$ok) {
        Test::More::diag("         got: " . _excerpt($got) . "\n"
            . ($negate ? "    matches: " : "    doesn't match: ") . "$re");
    }
    return $ok;
}

# --- environment expansion ------------------------------------------------

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries ||= 1000;
    $used ||= {};
    for (1 .. $tries) {
        my $port = int(rand 63547) + 1988;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr, LocalPort => $port, Proto => 'tcp',
            Listen => 5, Reuse => 1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# As upstream: $TEST_NGINX_FOO is replaced by $ENV{TEST_NGINX_FOO} (bail out
# when unset); $TEST_NGINX_RAND_PORT_N gets a free port, stable per block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $rand_ports ||= $RandPorts;
    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $p = gen_rand_port(1000, \%used);
                bail_out("$name - Cannot find an available listening port number for $var.\n")
                    unless defined $p;
                $rand_ports->{$var} = $p;
                $used{$p} = 1;
            }
            $val = $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }eg;
    return $text;
}

# --- nginx binary -----------------------------------------------------------

sub can_run {
    my ($cmd) = @_;
    return undef unless defined $cmd && length $cmd;
    if ($cmd =~ m{/}) {
        return (-f $cmd && -x _) ? $cmd : undef;
    }
    for my $dir (split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} || '') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

sub nginx_binary () {
    return $NginxBinary if defined $NginxBinary && $NginxBinary =~ m{/};
    if (defined $NginxBinary && length $NginxBinary) {
        my $p = can_run($NginxBinary);
        return $NginxBinary = $p if $p;
        bail_out("Cannot find the nginx executable \"$NginxBinary\" (TEST_NGINX_BINARY) in PATH");
    }
    my $p = can_run('nginx');
    $p ||= '/usr/sbin/nginx' if -x '/usr/sbin/nginx';
    bail_out("Cannot find the nginx executable: set TEST_NGINX_BINARY or put nginx in PATH")
        unless $p;
    return $NginxBinary = $p;
}

my $NginxV;
sub _nginx_V () {
    return $NginxV if defined $NginxV;
    my $bin = nginx_binary();
    $NginxV = `'$bin' -V 2>&1`;
    if (!defined $NginxV || $? != 0) {
        bail_out("Failed to run \"$bin -V\": " . (defined $NginxV ? $NginxV : $!));
    }
    return $NginxV;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_nginx_version () {
    my $out = _nginx_V();
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version($1, $2, $3);
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# --- cleanup / bail out ---------------------------------------------------

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub cleanup_test ($) {
    my $block = shift;
    $_->($block) for @TestCleanupHandlers;
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        stop_nginx('cleanup');
    }
}

# --- error / access logs --------------------------------------------------

# Lines appended to error.log since the previous call in this block (all of
# it with check_accum_error_log()).  Like upstream, sleep a little first so
# log-phase lines written after the response are flushed.
sub error_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return undef;
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# --- server root ------------------------------------------------------------

sub setup_server_root ($) {
    if (-d $ServRoot) {
        # Only remove what we create, so a misused TEST_NGINX_SERVROOT does
        # not wipe real data (same policy as upstream).
        remove_tree($ConfDir, $CacheDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $d;
        mkdir $d or bail_out("Failed to do mkdir $d: $!\n");
    }
    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

sub write_user_files ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            make_path($dir) unless -d $dir;
        }
        $body = expand_env_in_text($body, $name, $RandPorts);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' '$path'";
            system($cmd) == 0 or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

# --- nginx.conf -------------------------------------------------------------

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name, $RandPorts);
    my $main_config = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file = $block->error_log_file;
    my $server_name = $block->server_name;

    $config = '' unless defined $config;
    $http_config = '' unless defined $http_config;
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;
    $main_config = '' unless defined $main_config;

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        $main_config = join ' ', @modules, $main_config if @modules;
    }
    $main_config = expand_env_in_text($main_config, $name, $RandPorts);

    $post_main_config = '' unless defined $post_main_config;
    $post_main_config = expand_env_in_text($post_main_config, $name, $RandPorts);

    $err_log_file = $ErrLogFile unless $err_log_file;
    $err_log_file = expand_env_in_text($err_log_file, $name, $RandPorts);
    $server_name = $ServerName unless defined $server_name;

    my $extra_http_config = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n")
            if $PostponeOutput !~ /^\d+$/;
        $extra_http_config = "\n    postpone_output $PostponeOutput;\n";
    }

    my $nginx_V = _nginx_V();
    my $temp_paths = '';
    $temp_paths .= " client_body_temp_path $ServRoot/client_body_temp;"
        unless $http_config =~ /\bclient_body_temp_path\b/;
    $temp_paths .= " proxy_temp_path $ServRoot/proxy_temp;"
        unless $http_config =~ /\bproxy_temp_path\b/;
    $temp_paths .= " fastcgi_temp_path $ServRoot/fastcgi_temp;"
        unless $nginx_V =~ /--without-http_fastcgi_module/;
    $temp_paths .= " scgi_temp_path $ServRoot/scgi_temp;"
        unless $nginx_V =~ /--without-http_scgi_module/;
    $temp_paths .= " uwsgi_temp_path $ServRoot/uwsgi_temp;"
        unless $nginx_V =~ /--without-http_uwsgi_module/;

    my $env = '';
    for my $v (@EnvToNginx) {
        my $e = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $e;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
$env
$main_config

http {
    access_log $AccLogFile;$temp_paths

    default_type text/plain;
    keepalive_timeout  68000ms;
$extra_http_config
$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}

$user
_EOC_
    close $out;
}

# --- starting / stopping nginx ---------------------------------------------

sub _valgrind_log_glob () { "$LogDir/valgrind.*.log" }

sub _port_listening ($) {
    my $port = shift;
    my $hex = sprintf '%04X', $port;
    my $seen_proc = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        $seen_proc = 1;
        while (my $line = <$fh>) {
            # sl local_address rem_address st ...   (st 0A = LISTEN)
            if ($line =~ /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s+\S+\s+0A\b/
                && uc($1) eq $hex)
            {
                close $fh;
                return 1;
            }
        }
        close $fh;
    }
    return undef if $seen_proc;
    # no /proc: fall back to a connect probe
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 0.2);
    if ($s) { close $s; return 1 }
    return 0;
}

# Wait (polling, with a deadline) until nginx listens on the server port.
sub wait_for_listen ($$$) {
    my ($name, $deadline_secs, $child) = @_;
    my $deadline = time + $deadline_secs;
    my $step = 0.005;
    while (time < $deadline) {
        return 1 if _port_listening($ServerPort);
        if (defined $child && waitpid($child, WNOHANG) == $child) {
            undef $ChildPid;
            return 0;
        }
        sleep $step;
        $step *= 1.5;
        $step = 0.1 if $step > 0.1;
    }
    return 0;
}

sub _read_file_tail ($$) {
    my ($path, $max) = @_;
    open my $in, '<', $path or return '';
    local $/;
    my $s = <$in>;
    close $in;
    $s = '' unless defined $s;
    $s = substr($s, -$max) if length($s) > $max;
    return $s;
}

sub _stop_pid ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);
    my $sig = $ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT;
    kill $sig, $pid;
    my $limit = $UseValgrind ? 60 : ($Timeout > 3 ? $Timeout : 3);
    my $deadline = time + $limit;
    my $step = 0.005;
    while (time < $deadline) {
        waitpid($pid, WNOHANG) if defined $ChildPid && $pid == $ChildPid;
        return unless is_running($pid);
        sleep $step;
        $step *= 1.5;
        $step = 0.05 if $step > 0.05;
    }
    warn "$name - timeout when waiting for the process $pid to exit; killing it\n";
    kill SIGTERM, $pid;
    sleep 0.2;
    kill SIGKILL, $pid if is_running($pid);
    waitpid($pid, 0) if defined $ChildPid && $pid == $ChildPid;
}

# Stop the nginx of the previous block (pid file, or our foreground child).
sub stop_nginx ($) {
    my ($name) = @_;
    my $pid = get_pid_from_pidfile($name);
    if (defined $ChildPid) {
        $pid = $ChildPid unless defined $pid && is_running($pid);
    }
    if (defined $pid) {
        _stop_pid($pid, $name);
    }
    if (defined $ChildPid) {
        my $deadline = time + 5;
        while (time < $deadline) {
            my $r = waitpid($ChildPid, WNOHANG);
            last if $r == $ChildPid || $r == -1;
            sleep 0.02;
        }
        if (waitpid($ChildPid, WNOHANG) == 0) {
            kill SIGKILL, $ChildPid;
            waitpid($ChildPid, 0);
        }
        undef $ChildPid;
    }
    unlink $PidFile if -f $PidFile;
}

sub _nginx_cmd () {
    my $bin = nginx_binary();
    $NginxVersion ||= get_nginx_version();
    my @cmd = ($bin);
    push @cmd, '-e', $ErrLogFile if $NginxVersion >= 1.019005;
    push @cmd, '-p', "$ServRoot/", '-c', $ConfFile;
    return @cmd;
}

sub _sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

sub _valgrind_prefix () {
    my @v = ('valgrind', '-q', '--num-callers=100',
             '--log-file=' . "$LogDir/valgrind.%p.log");
    if ($UseValgrind =~ /^\d+$/) {
        push @v, qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                    --show-possibly-lost=no --gen-suppressions=all);
        for my $supp ('valgrind.suppress', 't/valgrind.suppress') {
            if (-f $supp) {
                push @v, '--suppressions=' . File::Spec->rel2abs($supp);
            }
        }
    } else {
        push @v, split ' ', $UseValgrind;
    }
    return @v;
}

# Start nginx for $block.  Returns 1 on success; on failure emits a failing
# test with the reason and returns 0.
sub start_nginx ($) {
    my ($block) = @_;
    my $name = $block->name;

    my @cmd = _nginx_cmd();
    $StderrFile = "$LogDir/nginx.stderr";
    my $suppress = defined $block->suppress_stderr;

    if ($UseValgrind) {
        unlink glob(_valgrind_log_glob());
        my @full = (_valgrind_prefix(), @cmd);
        warn "$name\n";
        my $pid = fork();
        bail_out("$name - fork() failed: $!") unless defined $pid;
        if ($pid == 0) {
            $InSubprocess = 1;
            setpgrp(0, 0);
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', $StderrFile;
            exec @full or POSIX::_exit(127);
        }
        $ChildPid = $pid;
        my $wait = $ENV{TEST_NGINX_VALGRIND_START_TIMEOUT} || 60;
        if (!wait_for_listen($name, $wait, $pid)) {
            Test::More::fail("$name - nginx (under valgrind) did not start listening on port $ServerPort");
            _diag_start_failure();
            stop_nginx($name);
            return 0;
        }
        return 1;
    }

    my $tries = 0;
    my $deadline = time + 10;
    while (1) {
        my $cmd = join(' ', map { _sh_quote($_) } @cmd)
                . " > /dev/null 2> " . _sh_quote($StderrFile);
        warn "command: $cmd\n" if $Verbose;
        system($cmd);
        my $status = $?;
        if ($status == 0) {
            last;
        }
        my $stderr = _read_file_tail($StderrFile, 4096);
        $tries++;
        # the port of an nginx that just quit may still be held briefly
        if ($stderr =~ /Address already in use/ && time < $deadline) {
            sleep 0.1 * ($tries > 10 ? 10 : $tries);
            next;
        }
        Test::More::fail("$name - failed to start nginx (exit status "
                         . ($status >> 8) . ")");
        _diag_start_failure();
        return 0;
    }

    if (!$suppress) {
        my $stderr = _read_file_tail($StderrFile, 4096);
        warn $stderr if length $stderr;
    }

    if (!wait_for_listen($name, 10, undef)) {
        Test::More::fail("$name - nginx did not start listening on port $ServerPort");
        _diag_start_failure();
        return 0;
    }
    return 1;
}

sub _diag_start_failure () {
    my $stderr = _read_file_tail($StderrFile, 2048);
    my $log = _read_file_tail($ErrLogFile, 2048);
    my @emerg = grep { /\[(?:emerg|alert|crit)\]/ } split /\n/, $log;
    my $msg = "nginx stderr:\n" . (length $stderr ? $stderr : "(empty)\n");
    $msg .= "error.log [emerg]/[alert]/[crit] lines:\n" . join("\n", @emerg) . "\n" if @emerg;
    $msg .= "config: $ConfFile";
    Test::More::diag($msg);
}

# --- valgrind report --------------------------------------------------------

our $ValgrindModuleRe = $ENV{TEST_NGINX_VALGRIND_MODULE_RE} || 'ngx_http_coze|coze_auth';

# Parse valgrind logs after nginx exited: every error record whose stack
# mentions the module (TEST_NGINX_VALGRIND_MODULE_RE) and is an invalid
# access/free, use of uninitialised memory or a definite leak is a failure;
# everything else is just printed.
sub check_valgrind_logs ($) {
    my ($name) = @_;
    my @files = sort glob(_valgrind_log_glob());
    my $re = qr/$ValgrindModuleRe/;
    for my $file (@files) {
        open my $in, '<', $file or next;
        my @records;
        my $cur;
        while (my $line = <$in>) {
            $line =~ s/^==\d+==\s?//;
            if ($line =~ /^\s*$/) {
                push @records, $cur if defined $cur;
                undef $cur;
                next;
            }
            $cur .= $line;
        }
        push @records, $cur if defined $cur;
        close $in;

        for my $rec (@records) {
            next if $rec =~ /^\{/;      # a generated suppression
            my ($first) = split /\n/, $rec;
            my $serious = $rec =~ /^(?:Invalid (?:read|write|free)|Mismatched free|
                                       Conditional\ jump|Use\ of\ uninitialised|
                                       Syscall\ param|Source\ and\ destination\ overlap|
                                       .*definitely\ lost)/mx;
            if ($serious && $rec =~ $re) {
                Test::More::fail("$name - valgrind: $first");
                Test::More::diag(length($rec) > 4096 ? substr($rec, 0, 4096) . "...\n" : $rec);
            } elsif ($rec =~ /\S/) {
                warn "$name - valgrind ($file):\n$rec\n";
            }
        }
    }
}

# --- the main loop ---------------------------------------------------------

sub run_tests () {
    srand($$ ^ int(time * 1000));
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Nginx::Compat::Blocks::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', $0 . ' ' . $block->name);
        run_test($block);
        cleanup_test($block);
        $PrevBlock = $block;
    }

    cleanup();
    # no done_testing() here: like upstream, a file must declare a plan
}

sub _skip_reason ($) {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $skip_eval = $block->skip_eval)) {
        if ($skip_eval =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $r = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
            return ($n, "skip_eval") if $r;
        }
    }

    if (defined(my $skip = $block->skip_nginx)) {
        if ($skip =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            my ($n, $op, $reason) = ($1, $2, $6);
            my $ver = get_canon_version($3, $4, $5);
            if (eval "$NginxVersion $op $ver") {
                return ($n, $reason || "nginx version $op $3.$4.$5");
            }
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $skip");
        }
    }
    return;
}

sub run_test ($) {
    my ($block) = @_;
    my $name = $block->name;

    return if defined $block->SKIP;

    $RandPorts = {};
    my $config = expand_env_in_text($block->config, $name, $RandPorts);

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;
    local $DaemonEnabled = $UseValgrind ? 'off' : 'on';

    my ($skip_n, $skip_reason) = _skip_reason($block);
    if (defined $skip_n) {
        SKIP: {
            Test::More::skip("$name - $skip_reason", $skip_n * $RepeatEach);
        }
        return;
    }

    my @unsupported = grep { defined $block->$_ } qw(
        tcp_listen tcp_reply tcp_query tcp_query_len udp_listen udp_reply
        udp_query access_log no_access_log shutdown_error_log
        no_shutdown_error_log stap stap_out stap_out_like stap_out_unlike
        http2 http3 skip_nginx2 skip_openssl skip_slave todo_nginx
        quic_max_idle_timeout reload_fails);
    if (@unsupported) {
        Test::More::fail("$name - not supported by the bundled Test::Nginx runner: --- "
                         . join(', --- ', @unsupported));
        return;
    }

    if (defined $block->todo) {
        warn "WARNING: $name - '--- todo' is not supported by the bundled runner; running normally\n";
    }

    if (!defined $config) {
        # as upstream: a block without --- config talks to the nginx of the
        # previous block, which is not restarted
        if (!defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not get previous one.");
        }
        goto REQUEST;
    }

    # a fresh nginx (and server root, so a fresh error.log) for every block
    $PrevConfig = $config;
    stop_nginx($name);
    setup_server_root(0);

    if ($block->post_setup_server_root) {
        eval $block->post_setup_server_root;
        bail_out("$name - post_setup_server_root failed: $@") if $@;
    }

    write_user_files($block);
    write_config_file($block, $config);

    if (defined(my $must_die = $block->must_die)) {
        $ErrLogFilePos = 0;    # as upstream: each run sees only its own lines
        for my $i (0 .. $RepeatEach - 1) {
            my @cmd = _nginx_cmd();
            $StderrFile = "$LogDir/nginx.stderr";
            my $cmd = join(' ', map { _sh_quote($_) } @cmd)
                    . " > /dev/null 2> " . _sh_quote($StderrFile);
            system($cmd);
            my $status = $?;
            my $stderr = _read_file_tail($StderrFile, 65536);

            if ($status == -1) {
                Test::More::fail("$name - failed to execute the nginx command line");
            } elsif ($status & 127) {
                Test::More::fail("$name - nginx died from signal " . ($status & 127));
            } elsif ($must_die =~ /^\s*\d+\s*$/) {
                Test::More::is($must_die, $status >> 8,
                               "$name - die with the expected exit code");
            } else {
                Test::More::ok($status != 0, "$name - die as expected")
                    or Test::More::diag("nginx started fine but --- must_die expects it to fail; "
                                        . "config: $ConfFile");
            }
            warn $stderr if length $stderr && !defined $block->suppress_stderr;

            $CheckErrorLog->($block, undef, 0, $i, 0, $stderr);

            if ($status == 0) {
                warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
                for (1 .. 15) { last if -f $PidFile; sleep $TestNginxSleep }
                stop_nginx($name);
            }
        }
        return;
    }

    return unless start_nginx($block);

  REQUEST:
    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        if ($i > 0) {
            write_user_files($block);
        }
        $RunTestHelper->($block, 0, $i);
    }

    _check_nginx_alive($name);

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total) {
            print $out "\n=== $0 $name\n";
            if (open my $in, '<', $ErrLogFile) {
                local $/;
                print $out scalar <$in>;
                close $in;
            }
            close $out;
        }
    }

    if ($UseValgrind) {
        stop_nginx($name);
        if (!defined $block->suppress_stderr) {
            my $stderr = _read_file_tail($StderrFile, 8192);
            warn $stderr if length $stderr;
        }
        check_valgrind_logs($name);
    }
}

# Not in upstream: a crash (e.g. a segfault in the module) after the response
# was sent would otherwise go unnoticed.  Adds an assertion only on failure.
sub _check_nginx_alive ($) {
    my ($name) = @_;
    my $pid = get_pid_from_pidfile($name);
    $pid = $ChildPid if !defined $pid && defined $ChildPid;
    if (defined $pid && !is_running($pid)) {
        my $how = '';
        if (defined $ChildPid && $pid == $ChildPid
            && waitpid($ChildPid, WNOHANG) == $ChildPid)
        {
            $how = ($? & 127) ? " (signal " . ($? & 127) . ")" : " (exit status " . ($? >> 8) . ")";
            undef $ChildPid;
            # a clean exit in the foreground (valgrind) mode: the test
            # stopped nginx itself (QUIT), as it may in the daemon mode
            return if $? == 0;
        }
        Test::More::fail("$name - nginx (pid $pid) is gone after the requests$how");
        Test::More::diag("last lines of $ErrLogFile:\n" . _read_file_tail($ErrLogFile, 2048));
        return;
    }
    if (open my $in, '<', $ErrLogFile) {
        while (my $line = <$in>) {
            if ($line =~ /process \d+ exited on signal (\d+)/) {
                Test::More::fail("$name - an nginx process crashed: $line");
                last;
            }
        }
        close $in;
    }
}

sub is_tcp_port_used ($) {
    my $port = shift;
    return _port_listening($port) ? 1 : 0;
}

END {
    return if $InSubprocess;
    local $?;
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
        my $pid = get_pid_from_pidfile('END');
        if (defined $pid && is_running($pid)) {
            _stop_pid($pid, 'END');
        }
        unlink $PidFile if defined $PidFile && -f $PidFile;
    }
}

1;
