package Test::Nginx::Socket;

# Bundled, compatible subset of OpenResty's Test::Nginx::Socket, for hosts
# where the real module (and its CPAN dependencies Test::Base, Text::Diff,
# List::MoreUtils, Test::LongString, HTTP::Message) is not installed.
# Core Perl only.  Load it with `prove -I t/compat ...` and only when
# `perl -MTest::Nginx::Socket -e1` fails: the same .t files must pass under
# the real module.
#
# Supported: the __DATA__ block format of Test::Base (=== / ---, filters
# norm trim chomp chop eval lines array join regexp escape ..., ONLY SKIP LAST),
# and these sections: config http_config main_config post_main_config
# request (string or eval'd array) raw_request pipelined_requests more_headers
# error_code error_code_like response_body response_body_like
# response_body_unlike response_headers response_headers_like
# raw_response_headers_like raw_response_headers_unlike response_body_filters
# response_body_json_sort error_log no_error_log grep_error_log
# grep_error_log_out timeout abort ignore_response wait must_die
# suppress_stderr user_files init log_level skip_eval skip_nginx shutdown
# server_addr_for_client raw_request_middle_delay.
# See docs/testing.md for what differs from upstream.

use strict;
use warnings;

our $VERSION = '0.33_compat';

use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Digest::MD5 ();
use Digest::SHA ();
use List::Util qw(min);
use POSIX ();
use Time::HiRes qw(sleep time);

use Test::More ();
use Test::Nginx::Compat::Blocks ();
use Test::Nginx::Util;

our @ResponseBodyChecks;

sub value_contains ($$);
sub fmt_str ($);
sub _pattern_list ($);

$Test::Nginx::Util::RunTestHelper = \&run_test_helper;
$Test::Nginx::Util::CheckErrorLog = \&check_error_log;

# What `use Test::Nginx::Socket` puts into the test file: upstream's own
# list plus what it inherits from Test::Base (mostly Test::More's functions).
our @EXPORT_FUNCS = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check

    ok is isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
    eq_array eq_hash eq_set can_ok isa_ok diag use_ok
    blocks first_block next_block spec_string filters no_diff
    croak carp cluck confess
);

my $Imported = 0;

sub import {
    my $class = shift;
    my @args = @_;
    my $caller = caller;

    # Test::Base turns on strict and warnings for the rest of the test file.
    strict->import;
    warnings->import;

    {
        no strict 'refs';
        for my $f (@EXPORT_FUNCS) {
            my $code = __PACKAGE__->can($f)
                || Test::Nginx::Util->can($f)
                || Test::More->can($f)
                || Carp->can($f)
                or die "compat Test::Nginx::Socket: no function $f";
            *{"${caller}::$f"} = $code;
        }
        *{"${caller}::TODO"} = \$Test::More::TODO;
    }

    @args = grep { $_ ne '-Base' && $_ ne '-base' } @args;
    if (@args) {
        Test::More::plan(@args);
    }
    $Imported = 1;
}

sub plan { Test::More::plan(@_) }

sub blocks      { Test::Nginx::Compat::Blocks::blocks(@_) }
sub first_block { Test::Nginx::Compat::Blocks::first_block() }

my @NextList;
sub next_block {
    @NextList = (Test::Nginx::Compat::Blocks::blocks(), undef) unless @NextList;
    return shift @NextList;
}

sub spec_string { Test::Nginx::Compat::Blocks::spec_string(@_) }

sub filters {
    my $arg = shift;
    if (ref $arg eq 'HASH') {
        warn "WARNING: filters({...}) per-section maps are not supported by the bundled runner\n";
        return;
    }
    push @Test::Nginx::Compat::Blocks::DefaultFilters, ($arg, @_);
}

sub no_diff { }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub set_http_config_filter ($) { $Test::Nginx::Util::FilterHttpConfig = shift }

sub run_test ($) { Test::Nginx::Util::run_test(shift) }

# ---------------------------------------------------------------------------
# Building the requests

sub parse_more_headers ($) {
    my ($in) = @_;
    my $out = '';
    my $is_chunked;
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val = '' unless defined $val;
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# "METHOD [URI [VERSION]]\n[body]" -> raw HTTP request, as upstream builds it:
# Host and Connection headers unless given, the more_headers, then a
# Content-Length for a non-chunked body (the body is trimmed first).
sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $request) = @_;

    $request = '' unless defined $request;
    my ($first, $content) = split /\n/, $request, 2;
    if (!defined $first || $first !~ /\S/) {
        bail_out("$name - Request line should be non-empty");
    }
    my ($meth, $url, $ver);
    if ($first =~ /^\s*(\S+)(?: +(\S+))?(?: +(\S+))?\s*$/) {
        ($meth, $url, $ver) = ($1, $2, $3);
    } else {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$first\".");
    }
    $url = '/' unless defined $url;
    $ver = 'HTTP/1.1' unless defined $ver;
    $content = '' unless defined $content;

    my $len_header = '';
    if (!$is_chunked && $content ne '' && $more_headers !~ /(?:^|\n)Content-Length:/) {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $Test::Nginx::Util::ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    return "$meth $url $ver\r\n$headers$content";
}

sub _headers_for ($$$) {
    my ($name, $more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("$name - --- more_headers lacks data for request $i") unless defined $hdr;
        return parse_more_headers($hdr);
    }
    return parse_more_headers($more_headers);
}

# Returns [ [ {value => bytes, delay_before => secs}, ... ] per request ]
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;
    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        if (ref $raw eq 'ARRAY') {
            push @req_list, [ map { { value => $_ } } @$raw ];
        } else {
            push @req_list, [ { value => $raw } ];
        }
        return \@req_list;
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            while ($request =~ s/^\s*\#[^\n]+\s+|^\s+//gs) { }
        }
    }

    my $more_headers = $block->more_headers;
    $more_headers = '' unless defined $more_headers;

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $prq = '';
        my $i = 0;
        for my $r (@$reqs) {
            my $one = expand_env_in_text($r, $name, $Test::Nginx::Util::RandPorts);
            my $conn = $i == @$reqs - 1 ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = _headers_for($name, $more_headers, $i);
            $prq .= build_request($name, $hdr, $chunked, $conn, $one);
            $i++;
        }
        push @req_list, [ { value => $prq } ];
        return \@req_list;
    }

    if (!defined $request) {
        bail_out("$name - no --- request (or raw_request) section");
    }

    if (!ref $request) {
        my ($hdr, $chunked) = _headers_for($name, $more_headers, 0);
        push @req_list, [ { value => build_request($name, $hdr, $chunked, 'close', $request) } ];
    } elsif (ref $request eq 'ARRAY') {
        my $i = 0;
        for my $one (@$request) {
            my ($hdr, $chunked) = _headers_for($name, $more_headers, $i);
            if (!ref $one) {
                push @req_list, [ { value => build_request($name, $hdr, $chunked, 'close', $one) } ];
            } elsif (ref $one eq 'ARRAY') {
                # a request given as packets: build it whole, then cut it
                # again where the packets were (the added headers go into
                # the packet holding the end of the request line)
                my @packets = map { ref $_ eq 'HASH' ? { %$_ } : { value => $_ } } @$one;
                my $whole = join '', map { $_->{value} } @packets;
                my $built = build_request($name, $hdr, $chunked, 'close', $whole);
                my ($line) = split /\n/, $whole, 2;
                my $extra = length($built) - length($whole);
                my $pos = 0;
                my $added = 0;
                for my $p (@packets) {
                    my $len = length $p->{value};
                    if (!$added && $pos + $len > length($line)) {
                        $len += $extra;
                        $added = 1;
                    }
                    $p->{value} = substr($built, $pos, $len);
                    $pos += $len;
                }
                $packets[-1]{value} .= substr($built, $pos) if $pos < length $built;
                push @req_list, \@packets;
            } else {
                bail_out("$name - Invalid syntax. $one should be a string or an array of packets.");
            }
            $i++;
        }
    } else {
        bail_out("$name - invalid --- request: MUST be string or array of requests");
    }

    return \@req_list;
}

# ---------------------------------------------------------------------------
# The HTTP client

our $TotalConnectingTimeouts = 0;

sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$req;

    my $head_req = (join('', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/) ? 1 : 0;

    my $addr = $block->server_addr_for_client;
    $addr = $Test::Nginx::Util::ServerAddr unless defined $addr;
    my $port = $Test::Nginx::Util::ServerPortForClient;

    my $sock;
    my $err;
    my $deadline = time + ($timeout > 3 ? $timeout : 3);
    my $step = 0.01;
    while (1) {
        $sock = IO::Socket::INET->new(
            PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
            Timeout => $timeout,
        );
        last if $sock;
        $err = $!;
        last if time > $deadline;
        if (defined $Test::Nginx::Util::ChildPid
            && waitpid($Test::Nginx::Util::ChildPid, POSIX::WNOHANG()) == $Test::Nginx::Util::ChildPid)
        {
            undef $Test::Nginx::Util::ChildPid;
            last;
        }
        sleep $step;
        $step *= 2;
        $step = 0.3 if $step > 0.3;
    }

    if (!$sock) {
        my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";
        if (++$TotalConnectingTimeouts < 3) {
            Test::More::fail($msg);
            Test::More::diag(Test::Nginx::Util::_read_file_tail($Test::Nginx::Util::ErrLogFile, 1024));
        } else {
            bail_out($msg);
        }
        return (undef, $head_req);
    }

    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $first = shift @bits;
    my $wbuf = $first->{value};
    my $woff = 0;
    my $writing = 1;
    my $reading = 1;
    my $sel = IO::Select->new($sock);

    while ($writing || $reading) {
        my ($r, $w) = IO::Select->select($reading ? $sel : undef,
                                         $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            if ($! == EINTR) { next }
            # timed out (no I/O event for $timeout seconds)
            close $sock;
            if (!defined $block->abort) {
                Test::More::fail("ERROR: client socket timed out - $name\n");
                Test::More::diag("timeout: ${timeout}s; received so far: "
                    . Test::Nginx::Util::_excerpt($resp));
            } else {
                sleep 0.005;
            }
            return ($resp, $head_req);
        }

        if ($w && @$w) {
            my $n = syswrite($sock, $wbuf, length($wbuf) - $woff, $woff);
            if (!defined $n) {
                if ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                    my $msg = "write failed: $!";
                    warn "$msg\n";
                    $resp = $msg if $resp eq '';
                    last;
                }
            } else {
                $woff += $n;
                if ($woff >= length $wbuf) {
                    my $next = shift @bits;
                    if (!defined $next) {
                        $writing = 0;
                        if (defined(my $shutdown = $block->shutdown)) {
                            $shutdown = 1 if $shutdown =~ /^\s*$/s;
                            shutdown($sock, $shutdown);
                        }
                    } else {
                        my $wait = defined $next->{delay_before}
                                 ? $next->{delay_before} : $middle_delay;
                        sleep $wait if $wait;
                        $wbuf = $next->{value};
                        $woff = 0;
                    }
                }
            }
        }

        if ($r && @$r) {
            my $chunk;
            my $n = sysread($sock, $chunk, 16384);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# Parsing responses

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $left;

    my $raw_headers = '';
    $raw_headers = $1 if $raw =~ /(.*?\r\n)\r\n/s;

    my $res = Test::Nginx::Compat::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }
    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers);
    }

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content;
        $body = '' unless defined $body;
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if (!@trailers && $body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            } elsif (@trailers && $body =~ /\G0[ \t]*\r\n/gc) {
                for my $t (@trailers) {
                    if ($body !~ /\G(\Q$t\E: [^\n]*\r\n)/gcs) {
                        Test::More::fail("$name - invalid trailer data received (expected $t).");
                        return;
                    }
                }
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }

            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $p = pos($body);
                if (length($body) - $p < $size) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr($body, $p, $size);
                pos($body) = $p + $size;
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: "
                                 . Test::Nginx::Util::_excerpt($1, 200));
                return;
            } else {
                Test::More::fail("$name - no last chunk found - "
                                 . Test::Nginx::Util::_excerpt($body, 200));
                return;
            }
        }
        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len =~ /^\d+$/) {
        my $body = $res->content;
        $body = '' unless defined $body;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got "
               . length($body) . "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr($body, $len);
            $res->content(substr($body, 0, $len));
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Per-block driver

sub _warn_unexpanded ($) {
    my ($block) = @_;
    # Upstream does not expand $TEST_NGINX_* in these sections; say so
    # instead of letting a test silently depend on it.
    for my $sec (qw(request raw_request more_headers response_headers
                    response_headers_like response_body_like
                    response_body_unlike error_log no_error_log))
    {
        my $v = $block->$sec;
        next unless defined $v && !ref $v;
        if ($v =~ /\$TEST_NGINX_\w+/) {
            Test::More::diag($block->name . " - note: \$TEST_NGINX_* is not expanded in "
                . "--- $sec (Test::Nginx only expands it in config-like sections and "
                . "response_body); use '--- $sec eval' with \$ENV{...}");
        }
    }
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    _warn_unexpanded($block) if $repeated_req_idx == 0;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = Test::Nginx::Util::parse_time($block->timeout);
    $timeout = Test::Nginx::Util::timeout() unless defined $timeout;

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw_resp, $head_req) = send_request($one_req,
            $block->raw_request_middle_delay, $timeout, $block);

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

      again:
        $raw_resp = '' unless defined $raw_resp;
        my ($raw_headers, $left);

        if (!defined $block->ignore_response) {
            ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
        }

        if (!$n) {
            if (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in response: \"$l\"\n";
            }
        } else {
            $raw_resp = $left;
            $n--;
        }

        if (!defined $block->ignore_response) {
            check_error_code($block, $res, $dry_run, $req_idx, $need_array);
            check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
            check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
            transform_response_body($block, $res, $req_idx);
            check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array);
        }

        if ($n || $req_idx < @$reqs - 1) {
            sleep($block->wait) if $block->wait;
            check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
        }

        $req_idx++;
        goto again if $n;
    }

    sleep($block->wait) if $block->wait;
    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
}

# ---------------------------------------------------------------------------
# Checks (test names as upstream's)

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.") if $req_idx != 0;
        return $value->[0];
    }
    return $value;
}

sub _code { my $res = shift; return ($res && $res->code) || '' }

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        my $got = _code($res);
        my $ok;
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
            $ok = Test::More::like($got, qr/$val/sm, "$name - status code ok");
        } else {
            my $exp = defined $block->error_code
                ? get_indexed_value($name, $block->error_code, $req_idx, $need_array)
                : 200;
            $ok = Test::More::is($got, $exp, "$name - status code ok");
        }
        if (!$ok) {
            Test::More::diag("response body (first 1 KB): "
                . Test::Nginx::Util::_excerpt($res ? $res->content : undef));
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' unless defined $raw_headers;
    if (defined $block->raw_response_headers_like) {
        my $exp = get_indexed_value($name, $block->raw_response_headers_like, $req_idx, $need_array);
        Test::Nginx::Util::like_str($raw_headers, qr/$exp/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $exp = get_indexed_value($name, $block->raw_response_headers_unlike, $req_idx, $need_array);
        Test::Nginx::Util::like_str($raw_headers, qr/$exp/s, "$name - raw resp headers unlike", 1);
    }
}

sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' unless defined $raw_headers;

    if (defined $block->response_headers) {
        my ($headers, $order) = parse_headers(
            get_indexed_value($name, $block->response_headers, $req_idx, $need_array));
        for my $key (@$order) {
            my $val = $headers->{$key};
            if (!defined $val) {
                my $ok = $raw_headers !~ /^\s*\Q$key\E\s*:/ms;
                Test::More::ok($ok, "$name - header $key not present in the raw headers")
                    or Test::More::diag("raw headers:\n$raw_headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            Test::More::is($actual, $val, "$name - header $key ok")
                or Test::More::diag("raw headers:\n$raw_headers");
        }
    } elsif (defined $block->response_headers_like) {
        my ($headers, $order) = parse_headers(
            get_indexed_value($name, $block->response_headers_like, $req_idx, $need_array));
        for my $key (@$order) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            Test::Nginx::Util::like_str($actual, qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    if (ref $filter eq 'CODE') {
        return $filter->($content);
    }
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only supports "
                 . "subroutine reference values and string values");
    }
    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the --- response_body_filters section");
    return $f->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return unless defined $res;
    my $content = $res->content;
    return unless defined $content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    my $filter = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        $filter = $filters->[$req_idx];
        bail_out("$name - the --- response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") unless defined $filter;
    }
    my $new = $content;
    for my $f (ref $filter eq 'ARRAY' ? @$filter : ($filter)) {
        $new = run_filter_helper($block, $f, $new);
    }
    $res->content($new);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined(my $file = $block->write_resp_body_file)) {
        if ($res && open my $out, '>', $file) {
            print $out (defined $res->content ? $res->content : '');
            close $out;
        }
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $content = $res ? $res->content : undef;

        if (defined $block->response_body_json_sort && defined $content) {
            my $js = JSON::PP->new->canonical(1);
            my $obj;
            if (eval { $obj = $js->loose(1)->decode($content); 1 }) {
                $content = $js->encode($obj) . "\n";
            }
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval, $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body, $req_idx, $need_array);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, $Test::Nginx::Util::RandPorts);
        }

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::Nginx::Util::like_str($content, $expected,
                    "$name - response_body - like (repeated req $repeated_req_idx, req $req_idx)");
            } else {
                is_str($content, $expected,
                    "$name - response_body - response is expected (repeated req $repeated_req_idx, req $req_idx)");
            }
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($patterns, $type, $negate);
        if (defined $block->response_body_like) {
            ($patterns, $type, $negate) = ($block->response_body_like, 'like', 0);
        } else {
            ($patterns, $type, $negate) = ($block->response_body_unlike, 'unlike', 1);
        }
        my $content = $res ? $res->content : undef;
        my $pat = get_indexed_value($name, $patterns, $req_idx, $need_array);
        $pat = '' unless defined $pat;
        if (!ref $pat) {
            $pat =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
            $pat =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
        }
        my $summary = trim($content);
        $summary = '' unless defined $summary;
        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due to $dry_run", 1) if $dry_run;
            Test::Nginx::Util::like_str($content, qr/$pat/s,
                "$name - response_body_$type - response is expected ($summary)", $negate);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    return 0 unless defined $val;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
    }
    return 0;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub _pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [ @$pats ];
}

# error_log / no_error_log / grep_error_log against the lines logged since
# the previous check of this block (as upstream, which means: after each
# request of a request array).  $extra_lines: nginx's stderr (must_die).
sub check_error_log ($$$$$;$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array, $extra) = @_;
    my $name = $block->name;
    my ($lines, $all);
    my $get_lines = sub {
        return $all if $all;
        $lines = error_log_data();
        $all = [@$lines];
        if (defined $extra && length $extra) {
            push @$all, map { "$_\n" } split /\n/, $extra;
        }
        return $all;
    };

    my %warn_level = (alert => 1, crit => 1, emerg => 1);

    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        my $grep_pat = ref $grep_pats eq 'ARRAY' ? $grep_pats->[$repeated_req_idx] : $grep_pats;
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = expand_env_in_text($expected, $name, $Test::Nginx::Util::RandPorts)
            unless ref $expected;
        $expected = $expected->[$repeated_req_idx] if ref $expected eq 'ARRAY';
        my $matched = '';
        for my $line (@{ $get_lines->() }) {
            if ((ref $grep_pat && $line =~ /$grep_pat/) || $line =~ /\Q$grep_pat\E/) {
                my $m = $&;
                $matched .= "$m\n" if $m !~ /\n/;
            }
        }
        if (ref $expected eq 'Regexp') {
            Test::Nginx::Util::like_str($matched, $expected, "$name - grep_error_log_out (req $repeated_req_idx)");
        } else {
            is_str($matched, $expected, "$name - grep_error_log_out (req $repeated_req_idx)");
        }
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    if (defined $block->error_log) {
        my $orig = $block->error_log;
        for my $lvl (keys %warn_level) {
            delete $warn_level{$lvl} if value_contains($orig, "[$lvl");
        }
        my $pats = _pattern_list($orig);
        my $log = $get_lines->();
        for my $line (@$log) {
            for my $pat (@$pats) {
                next unless defined $pat;
                if ((ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/) {
                    Test::More::pass("$name - pattern \"$pat\" matches a line in error.log (req $repeated_req_idx)");
                    undef $pat;
                }
            }
        }
        for my $pat (@$pats) {
            next unless defined $pat;
            Test::More::fail("$name - pattern \"$pat\" should match a line in error.log (req $repeated_req_idx)");
            my @tail = @$log > 20 ? @$log[-20 .. -1] : @$log;
            Test::More::diag(scalar(@$log) . " new line(s) in $Test::Nginx::Util::ErrLogFile"
                . (@$log > 20 ? "; the last 20" : '') . ":\n" . join('', @tail));
        }
    }

    if (defined $block->no_error_log) {
        my $orig = $block->no_error_log;
        for my $lvl (keys %warn_level) {
            delete $warn_level{$lvl} if value_contains($orig, "[$lvl");
        }
        my $pats = _pattern_list($orig);
        my $log = $get_lines->();
        my %found;
        for my $i (0 .. $#$log) {
            my $line = $log->[$i];
            for my $pat (@$pats) {
                next unless defined $pat;
                if ((ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/) {
                    $found{$pat} = 1;
                    my $ln = fmt_str($line);
                    my $p = fmt_str($pat);
                    my @more;
                    for (my $j = $i + 1; $j < min($i + 10, @$log - 1); $j++) {
                        push @more, $log->[$j];
                    }
                    Test::More::fail("$name - pattern \"$p\" should not match any line in error.log "
                        . "but matches line \"$ln\" (req $repeated_req_idx)\n" . join('', @more));
                }
            }
        }
        for my $pat (@$pats) {
            next unless defined $pat;
            next if $found{$pat};
            my $p = fmt_str($pat);
            Test::More::pass("$name - pattern \"$p\" does not match a line in error.log (req $repeated_req_idx)");
        }
    }

    if (!$dry_run) {
        $get_lines->();
        for my $line (@$lines) {
            for my $lvl (keys %warn_level) {
                if ($line =~ /\[$lvl\]/) {
                    warn "WARNING: $name - " . fmt_str($line) . "\n";
                }
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

# ---------------------------------------------------------------------------

package Test::Nginx::Compat::Response;

# The little of HTTP::Response the checks need.

sub parse {
    my ($class, $raw) = @_;
    my $self = bless { code => undef, message => undef, protocol => undef,
                       headers => [], content => undef }, $class;
    return $self unless defined $raw && length $raw;

    my $str = $raw;
    my $status_line;
    if ($str =~ s/^(.*)\n//) {
        $status_line = $1;
    } else {
        $status_line = $str;
        $str = '';
    }
    $status_line =~ s/\r\z//;
    if ($status_line =~ /^\d{3} /) {
        @$self{qw(code message)} = split ' ', $status_line, 2;
    } else {
        @$self{qw(protocol code message)} = split ' ', $status_line, 3;
    }

    # header lines up to the first empty line, then the body
    my @headers;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\r\z//;
            push @headers, [$k, $v];
        } elsif (@headers && $str =~ s/^([ \t].*)\n?//) {
            my $v = $1;
            $v =~ s/\r\z//;
            $headers[-1][1] .= "\n$v";
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }
    $self->{headers} = \@headers;
    $self->{content} = $str;
    return $self;
}

sub code {
    my $self = shift;
    $self->{code} = shift if @_;
    return $self->{code};
}

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

sub header {
    my ($self, $name) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $self->{headers} };
    return @v if wantarray;
    return undef unless @v;
    return join ', ', @v;
}

1;
