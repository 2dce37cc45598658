package CozeMock;

# Starts the mock Coze server (t/mock/coze_mock.py) for one test file and
# stops it when the file ends.  If TEST_NGINX_MOCK_PORT is already set (a
# harness such as CozeTest.pm started a mock), nothing is started.
#
#   use lib 't/lib';
#   use CozeMock;                 # plain listener
#   use CozeMock tls => 1;        # plus a TLS listener (t/data/server.pem)
#
# Exports to %ENV (so $TEST_NGINX_* works in nginx config sections):
#   TEST_NGINX_MOCK_PORT       plain HTTP port of the mock
#   TEST_NGINX_MOCK_TLS_PORT   TLS port (tls => 1 only; same state)
#   TEST_NGINX_DATA_DIR        absolute path of t/data
# COZE_MOCK_PYTHON overrides the interpreter (default /usr/bin/python3,
# which sees Debian's python3-cryptography).  The mock's stderr goes to
# t/servroot/coze_mock.log (TEST_NGINX_MOCK_LOG overrides).

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec ();
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

our ($Pid, $Owner);

my $Root = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', '..'));

sub import {
    my ($class, %opt) = @_;
    start(%opt);
}

sub start {
    my %opt = @_;
    $ENV{TEST_NGINX_DATA_DIR} ||= "$Root/t/data";
    return $ENV{TEST_NGINX_MOCK_PORT} if $ENV{TEST_NGINX_MOCK_PORT} || $Pid;

    my $dir = tempdir('coze-mock-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $log = $ENV{TEST_NGINX_MOCK_LOG} || "$Root/t/servroot/coze_mock.log";
    make_path(dirname($log));
    my @cmd = ($ENV{COZE_MOCK_PYTHON} || '/usr/bin/python3', '-B',
               "$Root/t/mock/coze_mock.py", '--port', 0,
               '--portfile', "$dir/port",
               '--apps', "$Root/t/data/mock_apps.json");
    if ($opt{tls}) {
        push @cmd, '--tls-cert', "$Root/t/data/server.pem",
                   '--tls-key', "$Root/t/data/server.key",
                   '--tls-port', 0, '--tls-portfile', "$dir/tlsport";
    }

    my $pid = fork();
    die "CozeMock: fork failed: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    ($Pid, $Owner) = ($pid, $$);

    my $want = $opt{tls} ? "$dir/tlsport" : "$dir/port";
    for (1 .. 200) {
        last if -s "$dir/port" && -s $want;
        if (waitpid($pid, WNOHANG) == $pid) {
            undef $Pid;
            die "CozeMock: the mock exited with status $? (see $log)\n";
        }
        sleep 0.05;
    }
    die "CozeMock: the mock did not start in 10 s (see $log)\n"
        unless -s "$dir/port" && -s $want;

    $ENV{TEST_NGINX_MOCK_PORT} = _slurp("$dir/port");
    $ENV{TEST_NGINX_MOCK_TLS_PORT} = _slurp($want) if $opt{tls};
    return $ENV{TEST_NGINX_MOCK_PORT};
}

sub stop {
    return unless $Pid && $Owner && $Owner == $$;
    kill 'TERM', $Pid;
    for (1 .. 40) {
        last if waitpid($Pid, WNOHANG) == $Pid;
        sleep 0.05;
    }
    kill 'KILL', $Pid if kill 0, $Pid;
    waitpid($Pid, 0);
    undef $Pid;
}

sub _slurp {
    my $f = shift;
    open my $fh, '<', $f or die "CozeMock: $f: $!";
    my $v = <$fh>;
    close $fh;
    $v =~ s/\s+//g;
    return $v;
}

END {
    my $rc = $?;
    stop();
    $? = $rc;
}

1;
