# Secret hygiene (issue 8): after a web login, a refresh, a failed code
# exchange (a spent code), a PKCE login and a JWT service token, no
# credential appears in the logs.
#
#   * error_log at info: neither error.log nor access.log holds any secret;
#   * error_log at debug: no line written by the module ("coze auth")
#     holds one.  nginx core's own debug lines print request lines and
#     proxied headers (docs/security.md); they are not checked.
#
# The secrets are everything the mock issued or saw (GET /__mock/secrets:
# codes, access and refresh tokens, JWTs, client secrets, PKCE verifiers),
# the session key (raw, hex, base64, base64url) and the JWT private key.
# A secret also counts as leaked when a fragment of 24 characters or more
# of its random part is in the log (each 16-character window at steps of 8
# is looked for), so a truncated token does not pass either.
#
# The logs are read by a response body check after the scenario ran, in
# the same nginx (each block starts with a fresh server root).

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

use HTTP::Tiny ();
use JSON::PP ();
use MIME::Base64 ();

repeat_each(1);
no_shuffle();
no_root_location();

my %App = (
    web  => '92769033034183945191209058691557.app.coze',
    pkce => '48707558507181157864250974164384.app.coze',
    jwt  => '1173227358491',
    kid  => 'hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As',
);

my $HttpConfig = <<'_EOC_';
    coze_auth_api_base     http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_session_key  $TEST_NGINX_DATA_DIR/session.key;
    coze_auth_timeout      5s;
_EOC_

# /w/: the web app, /p/: the PKCE app (own callbacks, registered at the
# mock by the scenario), /s/: a JWT app's service token
my $Config = CozeConf::coze_browse_location() . <<"_EOC_";
    location /w/ {
        coze_auth_client_type        web;
        coze_auth_client_id          $App{web};
        coze_auth_client_secret_file \$TEST_NGINX_DATA_DIR/web_client_secret.txt;
        coze_auth_redirect_uri       /w/callback;

        location = /w/callback {
            coze_auth_callback;
        }

        location = /w/me {
            coze_auth on;
            coze_auth_userinfo;
        }

        location = /w/logout {
            coze_auth_logout;
        }

        location /w/app/ {
            coze_auth on;
            proxy_set_header X-Token \$coze_access_token;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_PORT/__upstream/w/app/;
        }
    }

    location /p/ {
        coze_auth_client_type        pkce;
        coze_auth_client_id          $App{pkce};
        coze_auth_redirect_uri       /p/callback;

        location = /p/callback {
            coze_auth_callback;
        }

        location /p/app/ {
            coze_auth on;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_PORT/__upstream/p/app/;
        }
    }

    location /s/ {
        coze_auth on;
        coze_auth_client_type           jwt;
        coze_auth_client_id             $App{jwt};
        coze_auth_jwt_private_key_file  \$TEST_NGINX_DATA_DIR/jwt_private.pem;
        coze_auth_jwt_public_key_id     $App{kid};
        proxy_set_header X-Token \$coze_access_token;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_PORT/__upstream/s/;
    }
_EOC_

my $Grant = 'token:urn:ietf:params:oauth:grant-type:jwt-bearer';

# every flow that handles a credential, once
my $Scenario = <<"_EOS_";
{"steps": [
 {"mock": {"reset": true,
           "config": {"redirect_uris": {"web": ["\${base}/w/callback"],
                                        "pkce": ["\${base}/p/callback"]}}}},

 {"label": "web: protected", "get": "/w/app/page", "expect": {"status": 302},
  "save": {"authz": "location"}},
 {"label": "web: authorize", "get": "\${authz}", "expect": {"status": 302},
  "save": {"cb": "location", "code": "location_param.code"}},
 {"label": "web: callback", "get": "\${cb}",
  "expect": {"status": 302, "location_re": "/w/app/page\$",
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "web: signed in", "get": "/w/app/page",
  "expect": {"status": 200, "json": {"headers.x-token": {"re": "^czu_"}}}},

 {"label": "refresh (POST to userinfo)", "get": "/w/me", "method": "POST",
  "body": "", "expect": {"status": 200,
                         "requests": {"token:refresh_token:200": 1}}},
 {"label": "refreshed token upstream", "get": "/w/app/next",
  "expect": {"status": 200, "json": {"headers.x-token": {"re": "^czu_"}}}},
 {"label": "userinfo", "get": "/w/me", "expect": {"status": 200}},

 {"label": "spent code: new state", "get": "/w/app/again", "jar": "spent",
  "expect": {"status": 302}, "save": {"state2": "location_param.state"}},
 {"label": "spent code: exchange refused", "jar": "spent",
  "get": "/w/callback?code=\${code}&state=\${state2}",
  "expect": {"status": [400, 401, 403, 500, 502, 503],
             "requests": {"token:authorization_code:200": 1}}},

 {"label": "pkce: login", "get": "/p/app/page", "jar": "pkce",
  "follow": true,
  "expect": {"status": 200, "url_re": "/p/app/page\$",
             "requests": {"token:authorization_code:200": 2}}},

 {"label": "jwt: service token", "get": "/s/x", "jar": false,
  "expect": {"status": 200, "json": {"headers.x-token": {"re": "^czs_"}},
             "requests": {"$Grant:200": 1}}},

 {"label": "logout", "get": "/w/logout", "expect": {"status": 302}},

 {"label": "secrets issued", "get": "\${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"codes": {"len": 2}, "access_tokens": {"len": 4},
                      "refresh_tokens": {"len": 3}, "jwts": {"len": 1},
                      "verifiers": {"len": 1},
                      "client_secrets": {"type": "array"}}}}
]}
_EOS_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("request", "POST /t\n$Scenario")
        unless defined $block->request;
    scenario_defaults($block, 30);
});


# --- the secrets --------------------------------------------------------

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $s = <$fh>;
    close $fh;
    return defined $s ? $s : '';
}

# name => value: what the mock issued or saw, plus the keys nginx holds
sub all_secrets {
    my %s;
    my $res = HTTP::Tiny->new(timeout => 10)
        ->get(CozeTest::mock_url() . '/__mock/secrets');
    die "GET /__mock/secrets: $res->{status} $res->{reason}\n"
        unless $res->{success};
    my $j = JSON::PP->new->decode($res->{content});
    for my $kind (grep { $_ ne 'all' } sort keys %$j) {
        my $i = 0;
        for my $v (@{ $j->{$kind} }) {
            $s{"$kind\[" . $i++ . "]"} = $v;
        }
    }

    my $key = slurp(CozeTest::data_file('session.key'));
    $s{'session key (hex)'} = unpack('H*', $key);
    $s{'session key (HEX)'} = uc unpack('H*', $key);
    (my $b64 = MIME::Base64::encode_base64($key, '')) =~ s/=+$//;
    $s{'session key (base64)'} = $b64;
    (my $b64url = $b64) =~ tr{+/}{-_};
    $s{'session key (base64url)'} = $b64url;
    $s{'session key (raw)'} = $key;

    my $pem = slurp(CozeTest::data_file('jwt_private.pem'));
    my $n = 0;
    for my $line (split /\n/, $pem) {
        next if $line =~ /^-----/ || length($line) < 40;
        $s{'JWT private key line ' . $n++} = $line;
    }

    my $secret = slurp(CozeTest::data_file('web_client_secret.txt'));
    $secret =~ s/\s+$//;
    $s{'client secret file'} = $secret;

    return \%s;
}

# the strings to look for: the whole value, and 16-character windows of
# its random part (after a "czu_"-style prefix; JWTs: payload and
# signature), so that any logged fragment of 24+ characters is caught
sub needles {
    my ($v) = @_;
    my @n = ($v);
    my @parts;
    if ($v =~ /^[\w-]+\.([\w-]+)\.([\w-]+)$/) {
        @parts = ($1, $2);
    } else {
        (my $p = $v) =~ s/^[a-z]{2,5}_//;
        @parts = ($p);
    }
    for my $p (@parts) {
        next if length($p) < 24;
        for (my $i = 0; $i + 16 <= length($p); $i += 8) {
            push @n, substr($p, $i, 16);
        }
    }
    return @n;
}

# [ [where, line number, secret name], ... ] for each secret in the lines
sub find_leaks {
    my ($secrets, $where, $lines) = @_;
    my @found;
    for my $name (sort keys %$secrets) {
        my @needles = needles($secrets->{$name});
        my $ln = 0;
        for my $line (@$lines) {
            $ln++;
            for my $needle (@needles) {
                if (index($line, $needle) >= 0) {
                    push @found, "$where line $ln: $name";
                    last;
                }
            }
        }
    }
    return @found;
}

sub log_lines {
    my ($file) = @_;
    my $text = slurp($file);
    return [ split /\n/, $text ];
}

# after the scenario (the browser has finished its requests): read the logs
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;
    return if $dry_run;

    # log-phase lines of the last requests
    select(undef, undef, undef, 0.3);

    my $secrets = all_secrets();
    my $n = scalar keys %$secrets;
    ok($n >= 15, "$name - $n secrets to look for")
        or diag(join "\n", sort keys %$secrets);

    my $logs = "$Test::Nginx::Util::ServRoot/logs";
    my $err = log_lines("$logs/error.log");
    my $acc = log_lines("$logs/access.log");

    ok(@$err > 0, "$name - error.log has " . scalar(@$err) . " lines");

    my @leaks;
    if ($block->log_level eq 'debug') {
        my @mine = grep { /coze auth/ } @$err;
        ok(@mine > 0, "$name - " . scalar(@mine) . " module debug lines");
        @leaks = find_leaks($secrets, 'error.log (module line)', \@mine);
    } else {
        ok(@$acc > 0, "$name - access.log has " . scalar(@$acc) . " lines");
        @leaks = (find_leaks($secrets, 'error.log', $err),
                  find_leaks($secrets, 'access.log', $acc));
    }

    ok(!@leaks, "$name - no secret in the logs")
        or diag(join "\n", @leaks[0 .. ($#leaks > 19 ? 19 : $#leaks)]);
});

run_tests();

__DATA__

=== TEST 1: error_log at info: no secret in error.log or access.log
--- log_level: info
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 2: error_log at debug: no secret in a line of the module
--- log_level: debug
--- error_log
coze auth: user "7380000000000000001" signed in
