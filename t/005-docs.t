# The documentation stays true to the code:
#   * every directive the module registers has its section in
#     docs/directives.md, and every $coze_* variable is in docs/variables.md;
#   * every ```nginx example in README*.md and docs/*.md passes "nginx -t"
#     with the built module (fragments are placed into a complete site;
#     paths of key, secret and config files are replaced by test files).
#
# A plain Test::More file: it needs no running nginx, only "nginx -t".

use strict;
use warnings;

use lib 't/lib';
use CozeTest 'no_mock';
use File::Temp qw(tempdir);
use Test::More;

my $root = repo_root();
my $data = data_dir();
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
# with COZE_TEST_STATIC the module is compiled into the binary (test-asan)
my $load = $ENV{COZE_TEST_STATIC} ? ''
           : "load_module " . ($ENV{TEST_NGINX_LOAD_MODULES}
                               || "$root/build/ngx_http_coze_auth_module.so")
             . ";\n";

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    return scalar <$fh>;
}

# directives and variables

my $src = slurp("$root/ngx_http_coze_auth_module/ngx_http_coze_auth_module.c");
my @directives = $src =~ /ngx_string\("(coze_auth[a-z_]*)"\)/g;
ok(@directives >= 30, scalar(@directives) . " directives registered");

my $ddoc = slurp("$root/docs/directives.md");
for my $d (@directives) {
    ok($ddoc =~ /^###\s+\Q$d\E\s*$/m, "docs/directives.md has $d")
        or diag "add a \"### $d\" section with Syntax / Default / Context";
    ok($ddoc =~ /^\s+Syntax:\s+\Q$d\E\b/m, "$d has a Syntax line");
}

my $vsrc = slurp("$root/ngx_http_coze_auth_module/"
                 . "ngx_http_coze_auth_variables.c");
my @vars = $vsrc =~ /ngx_string\("(coze_[a-z_]*)"\)/g;
ok(@vars >= 7, scalar(@vars) . " variables registered");

my $vdoc = slurp("$root/docs/variables.md");
ok($vdoc =~ /\$\Q$_\E\b/, "docs/variables.md has \$$_") for @vars;

# examples

my $dir = tempdir(CLEANUP => 1);

my $app = slurp("$data/coze_oauth_config_web.json");
$app =~ s/__MOCK_PORT__/9/g;
open my $fh, '>', "$dir/app.json" or die;
print $fh $app;
close $fh;

open $fh, '>', "$dir/redis.pass" or die;
print $fh "example\n";
close $fh;

my %file = (
    json    => "$dir/app.json",
    password => "$dir/redis.pass",
    key     => "$data/session.key",
    secret  => "$data/web_client_secret.txt",
    token   => "$data/pat_token.txt",
    private => "$data/jwt_private.pem",
    cert    => "$data/server.pem",
    certkey => "$data/server.key",
    ca      => "$data/ca.pem",
);

# a real path for each absolute file path in an example
sub paths {
    my ($conf) = @_;
    $conf =~ s{(\s|=)(/[^\s;'"]+)}{
        my ($sp, $p) = ($1, $2);
        my $r = $p =~ /\.json$/                     ? $file{json}
              : $p =~ /\.pass$|password/             ? $file{password}
              : $p =~ /session[^\/]*\.key$|coze[^\/]*\.key$/ ? $file{key}
              : $p =~ /secret/                      ? $file{secret}
              : $p =~ /(pat|sat|token)[^\/]*$/      ? $file{token}
              : $p =~ /private.*\.pem$/             ? $file{private}
              : $p =~ /ca[^\/]*\.(pem|crt)$/        ? $file{ca}
              : $p =~ /\.(pem|crt)$/                ? $file{cert}
              : $p =~ /\.key$/                      ? $file{certkey}
              : $p;
        "$sp$r"
    }ge;
    return $conf;
}

my $site = <<"_EOC_";
    coze_auth_app_config   $file{json};
    coze_auth_session_key  $file{key};
    coze_auth_redirect_uri /oauth/callback;
    upstream app { server 127.0.0.1:9; }
    ssl_certificate     $file{cert};
    ssl_certificate_key $file{certkey};
_EOC_

sub full_config {
    my ($ex) = @_;
    my $conf;

    $ex =~ s/^\s*load_module\s+[^;]*;\s*$//mg;

    if ($ex =~ /^\s*http\s*\{/m) {
        $conf = $ex;
        $conf =~ s/^(\s*http\s*\{)/$1\n    upstream app { server 127.0.0.1:9; }\n    ssl_certificate $file{cert};\n    ssl_certificate_key $file{certkey};/m
            if $conf =~ /http:\/\/app\b|\bssl\b/;
        # an example that defines its own upstream "app" keeps it
        $conf =~ s/^\s*upstream app \{ server 127\.0\.0\.1:9; \}\n//m
            if ($conf =~ /upstream\s+app\s*\{/g) > 1;

    } elsif ($ex =~ /^\s*(server\s*\{|log_format|map|upstream|coze_auth_app_config|coze_auth_session_key|coze_auth_zone|coze_auth_cookie|coze_auth_session_lifetime|coze_auth_redis)\b/m) {
        # http-level text: the site's defaults only where it has none
        my $defaults = join "", grep {
            my ($d) = /^\s*(\S+)/;
            $ex !~ /^\s*\Q$d\E\b/m;
        } split /^/m, $site;

        $conf = "http {\n$defaults\n$ex\n";
        $conf .= "    server {\n        listen 127.0.0.1:9;\n    }\n"
            unless $ex =~ /^\s*server\s*\{/m;
        $conf .= "}\n";

    } elsif ($ex =~ /^\s*location\b/m) {
        $conf = "http {\n$site\n    server {\n        listen 127.0.0.1:9;\n"
                . "$ex\n    }\n}\n";

    } else {
        $conf = "http {\n$site\n    server {\n        listen 127.0.0.1:9;\n"
                . "        location / {\n$ex\n        }\n    }\n}\n";
    }

    $conf = paths($conf);

    # no DNS here: the public Coze hosts in proxy_pass become loopback
    $conf =~ s{(proxy_pass\s+https?://)api\.coze\.(cn|com)}{${1}127.0.0.1:9}g;

    return "${load}pid $dir/nginx.pid;\n"
           . "error_log $dir/error.log;\nevents {}\n$conf";
}

my $n = 0;

for my $doc (glob("$root/README*.md"), glob("$root/docs/*.md")) {
    my $text = slurp($doc);
    my $name = $doc =~ s{^\Q$root\E/}{}r;

    while ($text =~ /(<!--\s*no-check\s*-->\s*)?```nginx\n(.*?)```/sg) {
        my ($skip, $ex) = ($1, $2);
        $n++;

        next if $skip;

        my $conf = full_config($ex);
        my $file = "$dir/ex$n.conf";

        open my $out, '>', $file or die "$file: $!\n";
        print $out $conf;
        close $out;

        my $res = `$nginx -t -q -p $dir -c $file 2>&1`;
        my $rc = $? >> 8;

        my ($line) = $ex =~ /^\s*(\S[^\n]{0,60})/;
        is($rc, 0, "$name example $n (\"$line\") passes nginx -t")
            or diag "$res\n--- tested as:\n$conf";
    }
}

ok($n >= 10, "$n nginx examples found in the docs");

done_testing();
