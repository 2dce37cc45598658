package CozeTest;

# Shared setup for the ngx_http_coze_auth_module Test::Nginx suite.
# Works with the real Test::Nginx::Socket and with the bundled runner in
# t/compat.  Load it BEFORE Test::Nginx::Socket:
#
#   use lib 't/lib';
#   use CozeTest;                  # or: use CozeTest tls => 1;  / 'no_mock'
#   use Test::Nginx::Socket 'no_plan';
#
# At import it
#   * sets TEST_NGINX_REPO (absolute repo root) and TEST_NGINX_DATA_DIR
#     (absolute t/data) unless already set;
#   * sets TEST_NGINX_LOAD_MODULES to build/ngx_http_coze_auth_module.so when
#     that is unset and the module is built (Test::Nginx reads the variable
#     when it is loaded, hence "before Test::Nginx::Socket"); with
#     COZE_TEST_STATIC=1 (the module is compiled into TEST_NGINX_BINARY, as
#     in make test-asan) it removes TEST_NGINX_LOAD_MODULES instead;
#   * starts the mock Coze server (t/mock/coze_mock.py, with /usr/bin/python3
#     or $COZE_MOCK_PYTHON) on a free 127.0.0.1 port, waits until it accepts
#     connections and exports TEST_NGINX_MOCK_PORT (plus
#     TEST_NGINX_MOCK_TLS_PORT with tls => 1: a TLS listener sharing the
#     mock's state, cert t/data/server.pem).  Output goes to
#     t/servroot-mock.log ("$TEST_NGINX_SERVROOT-mock.log").  The mock is
#     killed at exit and on INT/TERM/HUP.  Skipped with 'no_mock', or when
#     TEST_NGINX_MOCK_PORT is already set (an external mock).
#
# Exported (into the test file, and into Test::Base::Filter so that
# "--- xxx eval" sections can call them too, under both runners):
#   mock_url()            "http://127.0.0.1:$TEST_NGINX_MOCK_PORT"
#   mock_port()           the mock's port
#   mock_tls_url()        "https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT"
#   data_file($name)      absolute path of t/data/$name
#   read_file($path)      contents of a file (relative paths: cwd, then repo
#                         root); in eval sections call it as
#                         CozeTest::read_file(...) -- Test::Base::Filter has
#                         a read_file filter of its own
#   start_mock(%opt)      start another mock instance, returns its port;
#                         tls => 1 makes it speak TLS (t/data/server.pem),
#                         apps => $file, args => [extra arguments],
#                         cert => $pem, key => $key
#   stop_mock($port)      stop an instance started by start_mock
#   scenario_defaults($block[, $timeout])  for a block preprocessor: what a
#                         scenario block expects unless it says otherwise:
#                         status 200, the driver's "PASS n checks" line, no
#                         alert, crit or emerg in error.log; timeout in
#                         seconds (default 60)
#   repo_root(), data_dir()

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_FUNCS = qw(mock_url mock_port mock_tls_url data_file read_file
                       start_mock stop_mock repo_root data_dir
                       shared_data_file scenario_defaults);

# helpers visible in "--- eval" sections (no read_file: see above)
our @EXPORT_TO_FILTER = qw(mock_url mock_port mock_tls_url data_file
                           repo_root data_dir);

my $Root = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..'));
my $DataDir = "$Root/t/data";

our %Mocks;          # port => { pid, log, tmpdir }
our $Owner = $$;     # only the process that started the mocks stops them
my $Initialized;
my $DefaultPort;

sub repo_root () { $Root }
sub data_dir ()  { $ENV{TEST_NGINX_DATA_DIR} || $DataDir }

sub mock_port () {
    my $p = $ENV{TEST_NGINX_MOCK_PORT};
    die "CozeTest: no mock running (loaded with 'no_mock'?)\n" unless $p;
    return $p;
}

sub mock_url () { "http://127.0.0.1:" . mock_port() }

sub mock_tls_url () {
    my $p = $ENV{TEST_NGINX_MOCK_TLS_PORT}
        or die "CozeTest: no TLS listener (use CozeTest tls => 1, or start_mock(tls => 1))\n";
    return "https://127.0.0.1:$p";
}

sub data_file ($) {
    my ($name) = @_;
    return File::Spec->file_name_is_absolute($name) ? $name : data_dir() . "/$name";
}

# a file of ../shared/data: beside the checkout, or beside the repository
# it was cloned from (a clone elsewhere, e.g. in /tmp); undef if neither
sub shared_data_file ($) {
    my ($name) = @_;
    my @dirs = ("$Root/..");
    my $origin = `git -C '$Root' config --get remote.origin.url 2>/dev/null`;
    chomp $origin;
    push @dirs, "$origin/.." if $origin ne '' && -d $origin;
    for my $d (@dirs) {
        my $p = "$d/shared/data/$name";
        return abs_path($p) if -f $p;
    }
    return undef;
}

sub read_file ($) {
    my ($path) = @_;
    $path =~ s/\s+\z//;    # also usable as a section filter: "--- x read_file"
    my $p = $path;
    if (!File::Spec->file_name_is_absolute($p) && !-e $p && -e "$Root/$p") {
        $p = "$Root/$p";
    }
    open my $fh, '<', $p or die "CozeTest: cannot read $path: $!\n";
    binmode $fh;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub scenario_defaults {
    my ($block, $timeout) = @_;
    $block->set_value("response_body_like", "^PASS \\d+ checks\n")
        unless defined $block->response_body_like;
    $block->set_value("error_code", 200) unless defined $block->error_code;
    $block->set_value("timeout", $timeout // 60)
        unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n[emerg]\n")
        unless defined $block->no_error_log;
}

sub _servroot () {
    my $sr = $ENV{TEST_NGINX_SERVROOT} || "$Root/t/servroot";
    $sr =~ s{/+$}{};
    return $sr;
}

sub _slurp_port ($) {
    my $f = shift;
    open my $fh, '<', $f or return undef;
    my $v = <$fh>;
    close $fh;
    return undef unless defined $v;
    $v =~ s/\s+//g;
    return $v =~ /^\d+$/ && $v > 0 ? $v : undef;
}

sub _tail ($$) {
    my ($file, $n) = @_;
    open my $fh, '<', $file or return '';
    my @l = <$fh>;
    close $fh;
    @l = @l[-$n .. -1] if @l > $n;
    return join '', @l;
}

sub _can_connect ($) {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 0.5);
    return 0 unless $s;
    close $s;
    return 1;
}

# Start one mock process; returns its (plain or TLS) main port, and with
# want_tls_port the port of an extra TLS listener sharing its state.
sub _spawn (%) {
    my %opt = @_;
    my $python = $ENV{COZE_MOCK_PYTHON} || '/usr/bin/python3';
    my $script = "$Root/t/mock/coze_mock.py";
    die "CozeTest: $script not found\n" unless -f $script;
    die "CozeTest: $python not found (set COZE_MOCK_PYTHON)\n" unless -x $python;

    my $tmp = File::Spec->catdir(File::Spec->tmpdir(),
        "coze-mock-$$-" . int(rand 1e9));
    mkdir $tmp or die "CozeTest: mkdir $tmp: $!\n";

    my $log = $opt{log};
    my @cmd = ($python, '-B', $script,
               '--port', 0, '--portfile', "$tmp/port",
               '--apps', $opt{apps} || "$DataDir/mock_apps.json");
    if ($opt{tls} || $opt{want_tls_port}) {
        push @cmd, '--tls-cert', $opt{cert} || "$DataDir/server.pem",
                   '--tls-key', $opt{key} || "$DataDir/server.key";
        push @cmd, '--tls-port', 0, '--tls-portfile', "$tmp/tlsport"
            if $opt{want_tls_port};
    }
    push @cmd, @{ $opt{args} || [] };

    if (open my $lf, '>>', $log) {
        print $lf "=== " . localtime() . " $0 (pid $$): @cmd\n";
        close $lf;
    }

    my $pid = fork();
    die "CozeTest: fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        if (!open STDOUT, '>>', $log) {
            print STDERR "CozeTest: cannot write $log: $!\n";
            POSIX::_exit(126);
        }
        open STDERR, '>&', \*STDOUT;
        { exec @cmd; }
        print STDERR "CozeTest: exec @cmd failed: $!\n";
        POSIX::_exit(127);
    }

    my $timeout = $ENV{COZE_MOCK_START_TIMEOUT} || 20;
    my $deadline = time + $timeout;
    my ($port, $tls_port);
    my $step = 0.01;
    while (1) {
        $port ||= _slurp_port("$tmp/port");
        $tls_port ||= _slurp_port("$tmp/tlsport") if $opt{want_tls_port};
        if ($port && (!$opt{want_tls_port} || $tls_port) && _can_connect($port)
            && (!$tls_port || _can_connect($tls_port)))
        {
            last;
        }
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            my $st = $?;
            _rm_tmp($tmp);
            die "CozeTest: the mock server exited during start-up ("
              . ($st & 127 ? "signal " . ($st & 127) : "status " . ($st >> 8))
              . ").\n  command: @cmd\n  last lines of $log:\n" . _tail($log, 20);
        }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            _rm_tmp($tmp);
            die "CozeTest: the mock server did not accept connections within "
              . "${timeout}s.\n  command: @cmd\n  last lines of $log:\n" . _tail($log, 20);
        }
        sleep $step;
        $step *= 1.5;
        $step = 0.1 if $step > 0.1;
    }

    $Mocks{$port} = { pid => $pid, log => $log, tmp => $tmp };
    return ($port, $tls_port);
}

sub _rm_tmp ($) {
    my $tmp = shift;
    unlink glob("$tmp/*");
    rmdir $tmp;
}

sub start_mock (%) {
    my %opt = @_;
    my $n = scalar(keys %Mocks) + 1;
    $opt{log} ||= _servroot() . "-mock-$n" . ($opt{tls} ? '-tls' : '') . ".log";
    my ($port) = _spawn(%opt);
    return $port;
}

sub stop_mock ($) {
    my ($port) = @_;
    my $m = delete $Mocks{$port} or return;
    return unless $Owner == $$;
    my $pid = $m->{pid};
    kill 'TERM', $pid;
    my $deadline = time + 3;
    my $gone;
    while (time < $deadline) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid || $r == -1) { $gone = 1; last }
        sleep 0.02;
    }
    if (!$gone) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    _rm_tmp($m->{tmp});
}

sub stop_all () {
    return unless $Owner == $$;
    stop_mock($_) for keys %Mocks;
}

sub _export_to ($@) {
    my ($pkg, @names) = @_;
    no strict 'refs';
    for my $f (@names) {
        *{"${pkg}::$f"} = \&{"CozeTest::$f"};
    }
}

sub import {
    my ($class, @args) = @_;
    my $caller = caller;

    # git checks files out 0644: the test secrets get the mode an operator
    # would give them, so nginx -t does not warn about them in every block
    chmod 0600, grep { -f } map { glob("$DataDir/$_") }
        qw(*.key *secret* *private*.pem *_token.txt);

    my %opt;
    while (@args) {
        my $a = shift @args;
        if ($a eq 'no_mock' || $a eq '-no_mock') {
            $opt{no_mock} = 1;
        } elsif ($a eq 'tls') {
            $opt{tls} = shift @args;
        } else {
            die "CozeTest: unknown import option '$a'\n";
        }
    }

    _export_to($caller, @EXPORT_FUNCS);
    _export_to('Test::Base::Filter', @EXPORT_TO_FILTER);

    return if $Initialized++;

    $ENV{TEST_NGINX_REPO} ||= $Root;
    $ENV{TEST_NGINX_DATA_DIR} ||= $DataDir;

    if ($ENV{COZE_TEST_STATIC}) {
        # the module is compiled into TEST_NGINX_BINARY (make test-asan)
        delete $ENV{TEST_NGINX_LOAD_MODULES};
        no warnings 'once';
        $Test::Nginx::Util::LoadModules = undef if $INC{'Test/Nginx/Util.pm'};
    } elsif (!defined $ENV{TEST_NGINX_LOAD_MODULES}
             || $ENV{TEST_NGINX_LOAD_MODULES} eq '')
    {
        my $so = "$Root/build/ngx_http_coze_auth_module.so";
        if (-f $so) {
            $ENV{TEST_NGINX_LOAD_MODULES} = $so;
            if ($INC{'Test/Nginx/Util.pm'}) {
                # loaded too early: Test::Nginx already read the variable
                warn "CozeTest: load CozeTest before Test::Nginx::Socket\n";
                no warnings 'once';
                $Test::Nginx::Util::LoadModules = $so;
            }
        } else {
            warn "CozeTest: $so is not built and TEST_NGINX_LOAD_MODULES is "
               . "unset; run 'make module' (or the module must be compiled "
               . "into TEST_NGINX_BINARY)\n";
        }
    }

    return if $opt{no_mock};
    return if $ENV{TEST_NGINX_MOCK_PORT};    # an external mock

    for my $sig (qw(INT TERM HUP)) {
        my $prev = $SIG{$sig};
        $SIG{$sig} = sub {
            stop_all();
            if (ref $prev eq 'CODE') {
                $prev->(@_);
            }
            # exit (not die) so END blocks stop nginx too
            my $num = { INT => 2, HUP => 1, TERM => 15 }->{$sig};
            exit(128 + $num);
        };
    }

    my ($port, $tls_port) = _spawn(
        log => _servroot() . "-mock.log",
        want_tls_port => $opt{tls} ? 1 : 0,
    );
    $DefaultPort = $port;
    $ENV{TEST_NGINX_MOCK_PORT} = $port;
    $ENV{TEST_NGINX_MOCK_TLS_PORT} = $tls_port if $tls_port;
}

END {
    local $?;
    stop_all();
}

1;
