# Diagnostics (issue 11): "nginx -t" explains the common misconfigurations
# in one line each, naming the directive:
#   * the redirect URI's host matches no server_name of the server (warning)
#   * coze_auth_cookie secure=on on a server without an ssl listener (warning)
#   * coze_auth_client_type contradicting the app config file's client_type,
#     e.g. web with a PKCE app's file (error: the type of a Coze app is fixed
#     when it is created, so such a login can never succeed)
#   * api and www bases of different Coze regions (error: a login started on
#     www.coze.com cannot be completed on api.coze.cn)
#   * secret files readable by other users (warning)
#   * no session key (warning)
# Warnings do not stop nginx: they are read from error.log, where nginx
# writes start-up messages too (both runners start it with -e).

use lib 't/lib';
use CozeTest;
use CozeConf;
use File::Copy qw(copy);
use File::Path qw(make_path);
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

my $Servroot = $ENV{TEST_NGINX_SERVROOT} || repo_root() . '/t/servroot';
$Servroot =~ s{/+$}{};
my $Dir = "$Servroot-data/diagnostics";
make_path($Dir);

sub put_file {
    my ($name, $data, $mode) = @_;
    my $path = "$Dir/$name";
    open my $out, '>', $path or die "$path: $!\n";
    binmode $out;
    print $out $data;
    close $out;
    chmod $mode, $path or die "chmod $path: $!\n";
    return $path;
}

# the same secrets, once private (0600) and once world-readable (0644)
for my $mode (0600, 0644) {
    my $sfx = sprintf '%o', $mode;
    for my $f (qw(session.key web_client_secret.txt jwt_private.pem
                  pat_token.txt))
    {
        (my $name = $f) =~ s/(\.[a-z]+)$/_$sfx$1/;
        put_file($name, CozeTest::read_file(data_file($f)), $mode);
    }
    put_file("coze_oauth_config_web_$sfx.json",
             CozeTest::read_file(app_config_file('web')), $mode);
}

my $WebId = '92769033034183945191209058691557.app.coze';
my $Secret = 'lnVhbmBFjL8SVYdaQBHTw0Fbfs3XZu2ljgt27N0EGAECnzsy';

put_file('regions.json', <<"_EOJ_", 0600);
{"client_type": "web", "client_id": "$WebId", "client_secret": "$Secret",
 "coze_api_base": "https://api.coze.com", "coze_www_base": "https://www.coze.cn"}
_EOJ_

$ENV{TEST_NGINX_DIAG_DATA} = $Dir;
$ENV{TEST_NGINX_APP_WEB} = app_config_file('web');
$ENV{TEST_NGINX_APP_PKCE} = app_config_file('pkce');
$ENV{TEST_NGINX_APP_JWT} = app_config_file('jwt');

add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->must_die) {
        $block->set_value("suppress_stderr", 1);
    } else {
        $block->set_value("request", "GET /t\n")
            unless defined $block->request;
        $block->set_value("suppress_stderr", 1);
    }
});

run_tests();

__DATA__

=== TEST 1: redirect URI host matches no server_name of the server: one warning per server
--- http_config eval
CozeConf::coze_http('web', callback => 'https://app.example.com/oauth/callback')
--- config
    location = /t { return 200 "ok\n"; }
    location = /oauth/callback { coze_auth_callback; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- error_log eval
qr{\[warn\] \d+#\d+: "coze_auth_redirect_uri" "https://app\.example\.com/oauth/callback": host "app\.example\.com" matches no "server_name" of the server "localhost", the browser will come back from Coze to another server}
--- grep_error_log eval
qr/matches no "server_name"/
--- grep_error_log_out
matches no "server_name"
--- no_error_log
[emerg]



=== TEST 2: redirect URI host is the server's name (case and port do not matter)
--- http_config eval
CozeConf::coze_http('web', callback => 'http://LocalHost:$TEST_NGINX_SERVER_PORT/oauth/callback')
--- config
    location = /t { return 200 "ok\n"; }
    location = /oauth/callback { coze_auth_callback; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- no_error_log
matches no "server_name"
[emerg]



=== TEST 3: wildcard and regex server names, and a shared cookie domain, match
--- http_config eval
CozeConf::coze_http('web') . <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name *.example.com;
        coze_auth_redirect_uri https://login.example.com/oauth/callback;
        location / { coze_auth on; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name ~^app\d+\.example\.net$;
        coze_auth_redirect_uri https://app7.example.net/oauth/callback;
        location / { coze_auth on; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name app.example.org;
        coze_auth_cookie domain=.example.org;
        coze_auth_redirect_uri https://sso.example.org/oauth/callback;
        location / { coze_auth on; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name www.example.*;
        coze_auth_redirect_uri https://www.example.de/oauth/callback;
        location / { coze_auth on; }
    }
_EOC_
--- config
    location = /t { return 200 "ok\n"; }
--- response_body
ok
--- no_error_log
matches no "server_name"
[emerg]



=== TEST 4: wildcard and suffix names that do not match
--- http_config eval
CozeConf::coze_http('web') . <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name *.example.com;
        coze_auth_redirect_uri https://example.com/oauth/callback;
        location / { coze_auth on; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name www.example.*;
        coze_auth_redirect_uri https://api.example.de/oauth/callback;
        location / { coze_auth on; }
    }
_EOC_
--- config
    location = /t { return 200 "ok\n"; }
--- response_body
ok
--- error_log eval
[qr{\[warn\] .*"coze_auth_redirect_uri" "https://example\.com/oauth/callback": host "example\.com" matches no "server_name" of the server "\*\.example\.com"},
 qr{\[warn\] .*"coze_auth_redirect_uri" "https://api\.example\.de/oauth/callback": host "api\.example\.de" matches no "server_name" of the server "www\.example\.\*"}]
--- no_error_log
[emerg]



=== TEST 5: secure=on cookie on a plain http server warns, on an ssl server not
--- http_config eval
CozeConf::coze_http('web') . <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name secure.test;
        ssl_certificate $TEST_NGINX_DATA_DIR/server.pem;
        ssl_certificate_key $TEST_NGINX_DATA_DIR/server.key;
        coze_auth_cookie secure=on;
        location / { coze_auth on; }
    }
_EOC_
--- config
    coze_auth_cookie secure=on;
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- error_log eval
qr{\[warn\] \d+#\d+: "coze_auth_cookie" secure=on, but the server "localhost" has no "listen \.\.\. ssl": browsers drop Secure cookies on plain http and sign-ins fail \(fine if TLS ends in front of nginx\)}
--- no_error_log
the server "secure.test" has no
[emerg]



=== TEST 6: secure=auto (the default) does not warn on a plain http server
--- http_config eval
CozeConf::coze_http('web')
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- no_error_log
has no "listen ... ssl"
[emerg]



=== TEST 7: web app type with a PKCE app's config file: the directive wins, with a warning
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_client_type web;
    coze_auth_client_secret_file $TEST_NGINX_DATA_DIR/web_client_secret.txt;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /app/
--- more_headers
Accept: text/html
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/api/permission/oauth2/authorize\?response_type=code&client_id=48707558507181157864250974164384\.app\.coze&redirect_uri=[^&]+&state=[^&]+
--- error_log eval
qr{\[warn\] \d+#\d+: "coze_auth_client_type web" overrides client_type "pkce" of "coze_auth_app_config" "[^"]*/coze_oauth_config_pkce\.json", but the type of a Coze app is fixed when it is created: Coze will refuse this app as a web app}



=== TEST 8: pkce app type with a web app's config file (set in a location): PKCE is used, with a warning
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; coze_auth_client_type pkce; }
--- request
GET /app/
--- more_headers
Accept: text/html
--- error_code: 302
--- response_headers_like
Location: .*&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256
--- error_log eval
qr{\[warn\] \d+#\d+: "coze_auth_client_type pkce" overrides client_type "web" of "coze_auth_app_config" "[^"]*/coze_oauth_config_web\.json"}



=== TEST 9: jwt app type with a web app's config file: warned, then refused for want of a key
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_client_type jwt;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log eval
[qr{\[warn\] \d+#\d+: "coze_auth_client_type jwt" overrides client_type "web" of "coze_auth_app_config"},
 qr{\[emerg\] \d+#\d+: a jwt app needs "coze_auth_jwt_private_key_file"}]



=== TEST 10: the same type in the directive and the file is fine; token ignores the file
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_client_type pkce;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
    location /pat/ {
        coze_auth on;
        coze_auth_client_type token;
        coze_auth_token_file $TEST_NGINX_DATA_DIR/pat_token.txt;
    }
--- response_body
ok
--- no_error_log
overrides client_type
[emerg]



=== TEST 11: api and www bases of different regions (directives)
--- http_config eval
CozeConf::coze_http('web') =~ s/coze_auth_api_base .*?;/coze_auth_api_base https:\/\/api.coze.cn;\n    coze_auth_www_base https:\/\/www.coze.com;/r
--- config
    location /app/ { coze_auth on; }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: Coze api base "https://api\.coze\.cn" \(coze\.cn\) and www base "https://www\.coze\.com" \(coze\.com\) are in different regions: check "coze_auth_api_base", "coze_auth_www_base" and the coze_api_base and coze_www_base of "coze_auth_app_config"}



=== TEST 12: api and www bases of different regions (app config file)
--- http_config
    coze_auth_app_config $TEST_NGINX_DIAG_DATA/regions.json;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location /app/ { coze_auth on; }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: Coze api base "https://api\.coze\.com" \(coze\.com\) and www base "https://www\.coze\.cn" \(coze\.cn\) are in different regions}



=== TEST 13: a directive overriding the file's www base puts both in one region
--- http_config
    coze_auth_app_config $TEST_NGINX_DIAG_DATA/regions.json;
    coze_auth_www_base https://www.coze.com;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: https://www\.coze\.com/api/permission/oauth2/authorize\?.*
--- no_error_log
different regions
[emerg]



=== TEST 14: secret files readable by other users: one warning each
--- http_config
    coze_auth_app_config $TEST_NGINX_DIAG_DATA/coze_oauth_config_web_644.json;
    coze_auth_client_secret_file $TEST_NGINX_DIAG_DATA/web_client_secret_644.txt;
    coze_auth_session_key $TEST_NGINX_DIAG_DATA/session_644.key;
    coze_auth_jwt_private_key_file $TEST_NGINX_DIAG_DATA/jwt_private_644.pem;
    coze_auth_token_file $TEST_NGINX_DIAG_DATA/pat_token_644.txt;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- error_log eval
[qr{\[warn\] \d+#\d+: "coze_auth_app_config": file "[^"]*/coze_oauth_config_web_644\.json" holds a secret and is readable by other users},
 qr{\[warn\] \d+#\d+: "coze_auth_client_secret_file": file "[^"]*/web_client_secret_644\.txt" is readable by other users},
 qr{\[warn\] \d+#\d+: "coze_auth_session_key": key file "[^"]*/session_644\.key" is readable by other users},
 qr{\[warn\] \d+#\d+: "coze_auth_jwt_private_key_file": key file "[^"]*/jwt_private_644\.pem" is readable by other users},
 qr{\[warn\] \d+#\d+: "coze_auth_token_file": file "[^"]*/pat_token_644\.txt" is readable by other users}]
--- no_error_log
[emerg]



=== TEST 15: the same files private to their owner: no warning
--- http_config
    coze_auth_app_config $TEST_NGINX_DIAG_DATA/coze_oauth_config_web_600.json;
    coze_auth_client_secret_file $TEST_NGINX_DIAG_DATA/web_client_secret_600.txt;
    coze_auth_session_key $TEST_NGINX_DIAG_DATA/session_600.key;
    coze_auth_jwt_private_key_file $TEST_NGINX_DIAG_DATA/jwt_private_600.pem;
    coze_auth_token_file $TEST_NGINX_DIAG_DATA/pat_token_600.txt;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- no_error_log
readable by other users
[emerg]



=== TEST 16: an app config without secrets may be readable
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DIAG_DATA/session_600.key;
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
--- response_body
ok
--- no_error_log
readable by other users
[emerg]



=== TEST 17: no session key: a random one, with a warning (once)
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location = /t { return 200 "ok\n"; }
    location /app/ { coze_auth on; }
    location /other/ { coze_auth on; }
--- response_body
ok
--- grep_error_log eval
qr/\[warn\] .*no "coze_auth_session_key" configured: using a random key, sessions end when nginx restarts or reloads/
--- grep_error_log_out eval
qr/\A[^\n]*no "coze_auth_session_key" configured[^\n]*\n\z/
