#!/usr/bin/perl
# Reads the sanitizer logs of a make test-asan run (ASAN_OPTIONS log_path:
# one file per process) and exits 1 if any of them reports a problem:
#
#   * every AddressSanitizer error and every UBSan "runtime error" fails;
#   * a LeakSanitizer direct leak fails when its allocation stack has a
#     frame of the module (ngx_http_coze_auth_*, or the module's source
#     directory); indirect leaks are only reachable from a direct one,
#     which names the owner.  nginx itself keeps a few allocations until exit (the
#     init cycle's pool, the event arrays, PCRE's) which LeakSanitizer
#     lists at every exit; those are counted and shown, not failed.
#     COZE_LSAN_ALL=1 fails on them too.
#
#   mk/sanitizer-check.pl DIR
use strict;
use warnings;

my $dir = shift or die "usage: $0 DIR\n";
my $mod_re = qr/ngx_http_coze_auth|\/ngx_http_coze_auth_module\//;
my $all = $ENV{COZE_LSAN_ALL};

my ($fatal, $core_leaks, $files) = (0, 0, 0);
my %core_sites;

for my $file (sort glob("$dir/*")) {
    next unless -f $file && -s $file;
    $files++;
    open my $in, '<', $file or die "$file: $!\n";
    my $text = do { local $/; <$in> };
    close $in;

    # split LeakSanitizer output into leak records; everything else is
    # an error report
    my @bad;
    my ($pre, $leaks) = split /^.*ERROR: LeakSanitizer: detected memory leaks\n/m,
                              $text, 2;

    $pre =~ s/^=+\n//mg;

    if ($pre =~ /\S/) {
        push @bad, $pre;
    }

    if (defined $leaks) {
        $leaks =~ s/^SUMMARY: .*\n?//m;
        for my $rec (split /\n\s*\n/, $leaks) {
            next unless $rec =~ /^(Direct|Indirect) leak of/m;
            # an indirect leak is reachable from a direct one: the direct
            # record names the owner (e.g. "nginx -t" never frees the
            # cycle, whose pool holds the module's configuration)
            if ($all || ($1 eq 'Direct' && $rec =~ $mod_re)) {
                push @bad, $rec;
                next;
            }
            $core_leaks++;
            # the first nginx frame below the allocator names the site
            my ($site) = $rec =~ /#\d+ 0x[0-9a-f]+ in (?!malloc|calloc|realloc|posix_memalign|ngx_alloc|ngx_calloc|ngx_memalign|ngx_create_pool|ngx_regex_malloc)(\w+)/;
            $core_sites{$site || '?'}++;
        }
    }

    for my $rec (@bad) {
        $fatal++;
        my @l = split /\n/, $rec;
        @l = (@l[0 .. 59], '...') if @l > 60;
        print "=== $file\n", join("\n", @l), "\n\n";
    }
}

if ($core_leaks) {
    print "sanitizers: $core_leaks leak record(s) of nginx itself at exit"
        . " (not failed; COZE_LSAN_ALL=1 to fail): "
        . join(', ', map { "$_ x$core_sites{$_}" } sort keys %core_sites)
        . "\n";
}

print "sanitizers: $files log file(s), $fatal report(s) that fail the run\n";
exit($fatal ? 1 : 0);
