# Configuration (issue 2, point 6): every directive is parsed, validated
# and merged; invalid values and impossible combinations stop nginx with a
# message that names the directive (and the file, for files).  Valid
# configurations start, and what they configure shows in what nginx does
# (the login redirect to Coze's authorize page, the upstream request).
#
# Broken inputs (short keys, bad JSON, ...) are written at test time under
# "$TEST_NGINX_SERVROOT-data/config", exported as $TEST_NGINX_CONF_DATA.
#
# Custom sections:
#   --- app: web|pkce|jwt|token   prepend CozeConf's coze_http() of that app
#                                 to --- http_config (the mock's apps)

use lib 't/lib';
use CozeTest;
use CozeConf;
use File::Path qw(make_path);
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

my $Servroot = $ENV{TEST_NGINX_SERVROOT} || repo_root() . '/t/servroot';
$Servroot =~ s{/+$}{};
my $Dir = "$Servroot-data/config";
make_path($Dir);

sub put_file {
    my ($name, $data, $mode) = @_;
    my $path = "$Dir/$name";
    open my $out, '>', $path or die "$path: $!\n";
    binmode $out;
    print $out $data;
    close $out;
    chmod $mode // 0600, $path;
    return $path;
}

my $WebId = '92769033034183945191209058691557.app.coze';
my $Secret = 'lnVhbmBFjL8SVYdaQBHTw0Fbfs3XZu2ljgt27N0EGAECnzsy';

put_file('short.key', 'k' x 31);
put_file('long.key', 'k' x 33);
put_file('hex.key', ('0123456789abcdef' x 4) . "\n");
put_file('nothex.key', ('0123456789abcdeg' x 4) . "\n");
put_file('empty.txt', '');
put_file('two_tokens.txt', "pat_one pat_two\n");
put_file('malformed.json', <<"_EOJ_");
{
  "client_type": "web",
  "client_id": ,
  "client_secret": "$Secret"
}
_EOJ_
put_file('wrongtype.json',
         qq({"client_type": "jwt", "client_id": 1173227358491}\n));
put_file('array.json', qq(["web", "$WebId"]\n));
put_file('device.json',
         qq({"client_type": "device", "client_id": "$WebId"}\n));
put_file('unknown_type.json',
         qq({"client_type": "server", "client_id": "$WebId"}\n));
put_file('badpem.json', <<"_EOJ_");
{"client_type": "jwt", "client_id": "1173227358491",
 "public_key_id": "kid",
 "private_key": "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"}
_EOJ_
put_file('badbase.json', <<"_EOJ_");
{"client_type": "web", "client_id": "$WebId", "client_secret": "$Secret",
 "coze_api_base": "api.coze.cn"}
_EOJ_
# a console download without bases, plus a field the module does not know
put_file('nobase.json', <<"_EOJ_");
{"client_type": "web", "client_id": "$WebId", "client_secret": "$Secret",
 "redirect_uris": ["http://localhost/oauth/callback"], "extra": {"a": [1]}}
_EOJ_

$ENV{TEST_NGINX_CONF_DATA} = $Dir;
$ENV{TEST_NGINX_APP_WEB} = app_config_file('web');
$ENV{TEST_NGINX_APP_PKCE} = app_config_file('pkce');
$ENV{TEST_NGINX_APP_JWT} = app_config_file('jwt');

add_block_preprocessor(sub {
    my $block = shift;
    if (defined(my $app = $block->app)) {
        $app =~ s/\s+//g;
        $block->set_value("http_config",
                          coze_http($app) . ($block->http_config // ''));
    }
    $block->set_value("config", "    location = /t { return 200 \"ok\\n\"; }\n")
        unless defined $block->config;
    if (defined $block->must_die) {
        $block->set_value("suppress_stderr", 1);
        # a plain message must be the text of an [emerg] line
        my $pats = $block->error_log;
        if (defined $pats && !ref $pats) {
            $block->set_value("error_log", [
                map { qr/\[emerg\] \d+#\d+: \Q$_\E/ }
                grep { /\S/ } split /\n/, $pats ]);
        }
    } else {
        $block->set_value("request", "GET /t\n")
            unless defined $block->request || defined $block->raw_request;
        $block->set_value("no_error_log", "[emerg]\n[alert]\n[crit]\n")
            unless defined $block->no_error_log;
    }
});

run_tests();

__DATA__

=== TEST 1: coze_auth_client_type: unknown value
--- http_config
    coze_auth_client_type native;
--- must_die
--- error_log
invalid value "native" in "coze_auth_client_type": expected web, pkce, jwt or token



=== TEST 2: coze_auth_app_config: client_type "device" is refused
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/device.json;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/device\.json": client_type "device" cannot be used by a web server \(web, pkce or jwt\)}



=== TEST 3: coze_auth_app_config: a client_type no console writes
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/unknown_type.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/unknown_type\.json": invalid client_type "server", expected web, pkce, jwt or device}



=== TEST 4: coze_auth_app_config: missing file
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/missing.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": open\(\) "[^"]*/config/missing\.json" failed \(2: No such file or directory\)}



=== TEST 5: coze_auth_app_config: a directory is not readable as a file
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": read\(\) "[^"]*/config" failed \(21: Is a directory\)}



=== TEST 6: coze_auth_app_config: malformed JSON, with jansson's line and column
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/malformed.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/malformed\.json": invalid JSON at line 3, column 16: }
--- no_error_log
lnVhbmBFjL8SVYdaQBHTw0Fbfs3XZu2ljgt27N0EGAECnzsy



=== TEST 7: coze_auth_app_config: a field of the wrong type
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/wrongtype.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/wrongtype\.json": "client_id" must be a string}



=== TEST 8: coze_auth_app_config: not a JSON object
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/array.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/array\.json": app config is not a JSON object}



=== TEST 9: coze_auth_app_config: empty file
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/empty.txt;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/empty\.txt": app config is empty}



=== TEST 10: coze_auth_app_config: private_key that is not a key
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/badpem.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/badpem\.json": invalid private_key: }



=== TEST 11: coze_auth_app_config: coze_api_base that is not a URL
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/badbase.json;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_app_config": file "[^"]*/badbase\.json": coze_api_base "api\.coze\.cn" is not an http\(s\) URL}



=== TEST 12: web app without a secret
--- http_config
    coze_auth_client_id 92769033034183945191209058691557.app.coze;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
a web app needs its secret: set "coze_auth_client_secret_file" (or client_secret in "coze_auth_app_config"), or use "coze_auth_client_type pkce"



=== TEST 13: web app without a redirect URI
--- http_config
    coze_auth_client_id 92769033034183945191209058691557.app.coze;
    coze_auth_client_secret_file $TEST_NGINX_DATA_DIR/web_client_secret.txt;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
"coze_auth_redirect_uri" is required for web and pkce apps



=== TEST 14: pkce app without a redirect URI (app config file)
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location = /oauth/callback { coze_auth_callback; }
--- must_die
--- error_log
"coze_auth_redirect_uri" is required for web and pkce apps



=== TEST 15: pkce app without a client id
--- http_config
    coze_auth_client_type pkce;
    coze_auth_redirect_uri /oauth/callback;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
"coze_auth_client_id" (or client_id in "coze_auth_app_config") is required



=== TEST 16: the checks apply only where the module is used
--- http_config
    coze_auth_client_type web;
--- config
    location = /t { coze_auth off; return 200 "ok\n"; }
--- response_body
ok



=== TEST 17: jwt app without a private key
--- http_config
    coze_auth_client_type jwt;
    coze_auth_client_id 1173227358491;
    coze_auth_jwt_public_key_id hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
a jwt app needs "coze_auth_jwt_private_key_file" (or private_key in "coze_auth_app_config")



=== TEST 18: jwt app without a key id
--- http_config
    coze_auth_client_type jwt;
    coze_auth_client_id 1173227358491;
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private.pem;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
a jwt app needs "coze_auth_jwt_public_key_id" (or public_key_id in "coze_auth_app_config")



=== TEST 19: coze_auth_jwt_private_key_file: a public key
--- http_config
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_public.pem;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_jwt_private_key_file": file "[^"]*/jwt_public\.pem": invalid private key: }



=== TEST 20: coze_auth_jwt_private_key_file: a certificate
--- http_config
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/server.pem;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_jwt_private_key_file": file "[^"]*/server\.pem": invalid private key: }



=== TEST 21: coze_auth_jwt_private_key_file: PKCS#1 and PKCS#8 keys are both accepted
--- http_config
    coze_auth_client_type jwt;
    coze_auth_client_id 1173227358491;
    coze_auth_jwt_public_key_id hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As;
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private_pkcs1.pem;
--- config
    location = /t {
        coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private.pem;
        return 200 "ok\n";
    }
--- response_body
ok



=== TEST 22: token type without coze_auth_token_file
--- http_config
    coze_auth_client_type token;
--- config
    location / { coze_auth on; }
--- must_die
--- error_log
"coze_auth_client_type token" needs "coze_auth_token_file"



=== TEST 23: coze_auth_token_file: more than one token
--- http_config
    coze_auth_token_file $TEST_NGINX_CONF_DATA/two_tokens.txt;
--- must_die
--- error_log
"coze_auth_token_file": the file must hold a single token



=== TEST 24: coze_auth_client_secret_file: empty file
--- http_config
    coze_auth_client_secret_file $TEST_NGINX_CONF_DATA/empty.txt;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_client_secret_file": file "[^"]*/empty\.txt" is empty}



=== TEST 25: coze_auth_client_secret_file: missing file
--- http_config
    coze_auth_client_secret_file $TEST_NGINX_CONF_DATA/missing.txt;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_client_secret_file": open\(\) "[^"]*/missing\.txt" failed \(2: No such file or directory\)}



=== TEST 26: coze_auth_session_key: 31 bytes
--- http_config
    coze_auth_session_key $TEST_NGINX_CONF_DATA/short.key;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_session_key": key file "[^"]*/short\.key" must hold exactly 32 bytes \(or 64 hex digits\)}



=== TEST 27: coze_auth_session_key: 33 bytes
--- http_config
    coze_auth_session_key $TEST_NGINX_CONF_DATA/long.key;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_session_key": key file "[^"]*/long\.key" must hold exactly 32 bytes}



=== TEST 28: coze_auth_session_key: 64 characters that are not all hex digits
--- http_config
    coze_auth_session_key $TEST_NGINX_CONF_DATA/nothex.key;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_session_key": key file "[^"]*/nothex\.key" must hold exactly 32 bytes}



=== TEST 29: coze_auth_session_key: 64 hex digits and a newline are accepted
--- app: web
--- http_config
    coze_auth_session_key $TEST_NGINX_CONF_DATA/hex.key;
--- config
    location / { coze_auth on; }
--- request
GET /x
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/api/permission/oauth2/authorize\?.*



=== TEST 30: coze_auth_session_key: the same key twice
--- http_config
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_session_key": key "[^"]*/session\.key" is configured twice}



=== TEST 31: coze_auth_session_key: not in a location
--- config
    location / {
        coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
    }
--- must_die
--- error_log
"coze_auth_session_key" directive is not allowed here



=== TEST 32: duplicate: coze_auth_client_type
--- http_config
    coze_auth_client_type web;
    coze_auth_client_type pkce;
--- must_die
--- error_log
"coze_auth_client_type" directive is duplicate



=== TEST 33: duplicate: coze_auth_app_config
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
    coze_auth_app_config $TEST_NGINX_APP_PKCE;
--- must_die
--- error_log
"coze_auth_app_config" directive is duplicate



=== TEST 34: duplicate: coze_auth_client_id
--- http_config
    coze_auth_client_id a;
    coze_auth_client_id b;
--- must_die
--- error_log
"coze_auth_client_id" directive is duplicate



=== TEST 35: duplicate: coze_auth_client_secret_file
--- http_config
    coze_auth_client_secret_file $TEST_NGINX_DATA_DIR/web_client_secret.txt;
    coze_auth_client_secret_file $TEST_NGINX_DATA_DIR/web_client_secret.txt;
--- must_die
--- error_log
"coze_auth_client_secret_file" directive is duplicate



=== TEST 36: duplicate: coze_auth_api_base
--- http_config
    coze_auth_api_base https://api.coze.cn;
    coze_auth_api_base https://api.coze.com;
--- must_die
--- error_log
"coze_auth_api_base" directive is duplicate



=== TEST 37: duplicate: coze_auth_redirect_uri
--- config
    location / {
        coze_auth_redirect_uri /a;
        coze_auth_redirect_uri /b;
    }
--- must_die
--- error_log
"coze_auth_redirect_uri" directive is duplicate



=== TEST 38: duplicate: coze_auth_cookie
--- http_config
    coze_auth_cookie name=a;
    coze_auth_cookie name=b;
--- must_die
--- error_log
"coze_auth_cookie" directive is duplicate



=== TEST 39: duplicate: coze_auth_zone
--- http_config
    coze_auth_zone a:1m;
    coze_auth_zone b:1m;
--- must_die
--- error_log
"coze_auth_zone" directive is duplicate



=== TEST 40: duplicate: coze_auth_unauthenticated
--- config
    location / {
        coze_auth_unauthenticated 401;
        coze_auth_unauthenticated pass;
    }
--- must_die
--- error_log
"coze_auth_unauthenticated" directive is duplicate



=== TEST 41: duplicate: coze_auth_token_header
--- http_config
    coze_auth_token_header X-A;
    coze_auth_token_header off;
--- must_die
--- error_log
"coze_auth_token_header" directive is duplicate



=== TEST 42: duplicate: coze_auth_jwt_ttl
--- http_config
    coze_auth_jwt_ttl 60s;
    coze_auth_jwt_ttl 120s;
--- must_die
--- error_log
"coze_auth_jwt_ttl" directive is duplicate



=== TEST 43: duplicate: coze_auth_jwt_private_key_file
--- http_config
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private.pem;
    coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt2_private.pem;
--- must_die
--- error_log
"coze_auth_jwt_private_key_file" directive is duplicate



=== TEST 44: duplicate: coze_auth_session_idle_timeout
--- http_config
    coze_auth_session_idle_timeout off;
    coze_auth_session_idle_timeout 1h;
--- must_die
--- error_log
"coze_auth_session_idle_timeout" directive is duplicate



=== TEST 45: duplicate: coze_auth
--- config
    location / {
        coze_auth on;
        coze_auth off;
    }
--- must_die
--- error_log
"coze_auth" directive is duplicate



=== TEST 46: two endpoints in one location
--- config
    location / {
        coze_auth_callback;
        coze_auth_logout;
    }
--- must_die
--- error_log
"coze_auth_logout": this location already is a coze_auth endpoint



=== TEST 47: endpoints only in locations
--- http_config
    coze_auth_callback;
--- must_die
--- error_log
"coze_auth_callback" directive is not allowed here



=== TEST 48: coze_auth: on or off
--- config
    location / { coze_auth yes; }
--- must_die
--- error_log
invalid value "yes" in "coze_auth" directive, it must be "on" or "off"



=== TEST 49: coze_auth_cookie: a name with a character cookies cannot carry
--- http_config
    coze_auth_cookie name=coze.session;
--- must_die
--- error_log
invalid parameter "name=coze.session" in "coze_auth_cookie"



=== TEST 50: coze_auth_cookie: an empty name
--- http_config
    coze_auth_cookie name= path=/;
--- must_die
--- error_log
invalid parameter "name=" in "coze_auth_cookie"



=== TEST 51: coze_auth_cookie: samesite=none needs a Secure cookie
--- http_config
    coze_auth_cookie samesite=none secure=off;
--- must_die
--- error_log
"coze_auth_cookie": samesite=none requires a Secure cookie (secure=auto or secure=on)



=== TEST 52: coze_auth_cookie: unknown samesite value
--- http_config
    coze_auth_cookie samesite=loose;
--- must_die
--- error_log
invalid parameter "samesite=loose" in "coze_auth_cookie"



=== TEST 53: coze_auth_cookie: unknown secure value
--- http_config
    coze_auth_cookie secure=yes;
--- must_die
--- error_log
invalid parameter "secure=yes" in "coze_auth_cookie"



=== TEST 54: coze_auth_cookie: a relative path
--- http_config
    coze_auth_cookie path=app;
--- must_die
--- error_log
invalid parameter "path=app" in "coze_auth_cookie"



=== TEST 55: coze_auth_cookie: unknown parameter
--- http_config
    coze_auth_cookie httponly=off;
--- must_die
--- error_log
invalid parameter "httponly=off" in "coze_auth_cookie"



=== TEST 56: coze_auth_cookie: the attributes are used
--- app: web
--- http_config
    coze_auth_cookie name=my_sess path=/app domain=localhost secure=off samesite=strict;
--- config
    location / { coze_auth on; }
--- request
GET /app/x
--- error_code: 302
--- response_headers_like
Set-Cookie: my_sess_st_[A-Za-z0-9_-]+=[^;]+; Max-Age=600; Path=/app; Domain=localhost; HttpOnly; SameSite=Lax



=== TEST 57: coze_auth_jwt_ttl: zero
--- http_config
    coze_auth_jwt_ttl 0;
--- must_die
--- error_log
"coze_auth_jwt_ttl" must be between 1s and 86399s, got "0"



=== TEST 58: coze_auth_jwt_ttl: a day is over Coze's limit
--- http_config
    coze_auth_jwt_ttl 1d;
--- must_die
--- error_log
"coze_auth_jwt_ttl" must be between 1s and 86399s, got "1d"



=== TEST 59: coze_auth_jwt_ttl: not a time
--- http_config
    coze_auth_jwt_ttl soon;
--- must_die
--- error_log
"coze_auth_jwt_ttl" directive invalid value



=== TEST 60: coze_auth_jwt_ttl: both limits are accepted
--- app: jwt
--- http_config
    coze_auth_jwt_ttl 86399s;
--- config
    location = /t {
        coze_auth_jwt_ttl 1s;
        return 200 "ok\n";
    }
--- response_body
ok



=== TEST 61: coze_auth_session_lifetime: zero
--- http_config
    coze_auth_session_lifetime 0;
--- must_die
--- error_log
"coze_auth_session_lifetime" must be at least 1s, got "0"



=== TEST 62: coze_auth_timeout: zero
--- http_config
    coze_auth_timeout 0s;
--- must_die
--- error_log
"coze_auth_timeout" must be greater than zero, got "0s"



=== TEST 63: coze_auth_session_idle_timeout: zero (off is the way to say none)
--- http_config
    coze_auth_session_idle_timeout 0;
--- must_die
--- error_log
"coze_auth_session_idle_timeout" directive invalid value



=== TEST 64: coze_auth_api_base: a host name is not a URL
--- http_config
    coze_auth_api_base api.coze.cn;
--- must_die
--- error_log
"coze_auth_api_base" must be an http:// or https:// URL without query, got "api.coze.cn"



=== TEST 65: coze_auth_api_base: another scheme
--- http_config
    coze_auth_api_base ftp://api.coze.cn;
--- must_die
--- error_log
"coze_auth_api_base" must be an http:// or https:// URL without query, got "ftp://api.coze.cn"



=== TEST 66: coze_auth_www_base: a query
--- http_config
    coze_auth_www_base https://www.coze.cn/?lang=en;
--- must_die
--- error_log
"coze_auth_www_base" must be an http:// or https:// URL without query, got "https://www.coze.cn/?lang=en"



=== TEST 67: coze_auth_redirect_uri: neither a path nor a URL
--- http_config
    coze_auth_redirect_uri oauth/callback;
--- must_die
--- error_log
"coze_auth_redirect_uri" must be a path ("/oauth/callback") or an absolute http(s) URL, got "oauth/callback"



=== TEST 68: coze_auth_redirect_uri: a protocol-relative URL
--- http_config
    coze_auth_redirect_uri //evil.example/oauth/callback;
--- must_die
--- error_log
"coze_auth_redirect_uri" must be a path ("/oauth/callback") or an absolute http(s) URL, got "//evil.example/oauth/callback"



=== TEST 69: coze_auth_zone: no size
--- http_config
    coze_auth_zone coze;
--- must_die
--- error_log
invalid zone "coze" in "coze_auth_zone": name:size expected



=== TEST 70: coze_auth_zone: a size that is not a size
--- http_config
    coze_auth_zone coze:lots;
--- must_die
--- error_log
invalid zone "coze:lots" in "coze_auth_zone": name:size expected



=== TEST 71: coze_auth_zone: no name
--- http_config
    coze_auth_zone :1m;
--- must_die
--- error_log
invalid zone ":1m" in "coze_auth_zone": name:size expected



=== TEST 72: coze_auth_zone: too small
--- http_config
    coze_auth_zone coze:16k;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_zone": zone "coze:16k" is too small, at least \d+k is needed}



=== TEST 73: coze_auth_zone: only at the http level
--- config
    coze_auth_zone coze:1m;
--- must_die
--- error_log
"coze_auth_zone" directive is not allowed here



=== TEST 74: coze_auth_zone: a name another module uses
--- http_config
    limit_req_zone $binary_remote_addr zone=shared:1m rate=1r/s;
    coze_auth_zone shared:1m;
--- must_die
--- error_log
the shared memory zone "shared" is already declared for a different use



=== TEST 75: coze_auth_unauthenticated: unknown value
--- config
    location / { coze_auth_unauthenticated login; }
--- must_die
--- error_log
invalid value "login" in "coze_auth_unauthenticated": expected auto, redirect, 401 or pass



=== TEST 76: coze_auth_token_header: a space in the name
--- http_config
    coze_auth_token_header "X Coze";
--- must_die
--- error_log
"coze_auth_token_header": invalid header name "X Coze"



=== TEST 77: coze_auth_token_header: a colon in the name
--- http_config
    coze_auth_token_header X-Coze:;
--- must_die
--- error_log
"coze_auth_token_header": invalid header name "X-Coze:"



=== TEST 78: coze_auth_token_header: empty
--- http_config
    coze_auth_token_header "";
--- must_die
--- error_log
"coze_auth_token_header": empty header name



=== TEST 79: coze_auth_ssl_trusted_certificate: unreadable
--- http_config
    coze_auth_ssl_trusted_certificate $TEST_NGINX_CONF_DATA/missing.pem;
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "coze_auth_ssl_trusted_certificate": cannot read "[^"]*/missing\.pem" \(2: No such file or directory\)}



=== TEST 80: coze_auth_logout: a javascript: target
--- config
    location = /logout { coze_auth_logout javascript:alert(1); }
--- must_die
--- error_log
"coze_auth_logout": invalid target "javascript:alert(1)": a same-site path or an http(s) URL is expected



=== TEST 81: coze_auth_logout: a protocol-relative target
--- config
    location = /logout { coze_auth_logout //evil.example/; }
--- must_die
--- error_log
"coze_auth_logout": invalid target "//evil.example/": a same-site path or an http(s) URL is expected



=== TEST 82: coze_auth_callback needs a browser app
--- app: jwt
--- config
    location = /oauth/callback { coze_auth_callback; }
--- must_die
--- error_log
"coze_auth_callback" needs a web or pkce app, this location's "coze_auth_client_type" is jwt



=== TEST 83: a full configuration: every directive, nginx starts
--- http_config
    coze_auth_zone                  coze_auth_test:2m;
    coze_auth_app_config            $TEST_NGINX_APP_WEB;
    coze_auth_client_type           web;
    coze_auth_client_id             92769033034183945191209058691557.app.coze;
    coze_auth_client_secret_file    $TEST_NGINX_DATA_DIR/web_client_secret.txt;
    coze_auth_api_base              http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    coze_auth_www_base              http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    coze_auth_redirect_uri          /oauth/callback;
    coze_auth_workspace_id          7350000000000000001;
    coze_auth_session_key           $TEST_NGINX_DATA_DIR/session.key;
    coze_auth_session_key           $TEST_NGINX_DATA_DIR/session2.key;
    coze_auth_cookie                name=coze_session path=/ secure=auto samesite=lax;
    coze_auth_session_lifetime      7d;
    coze_auth_session_idle_timeout  12h;
    coze_auth_refresh_ahead         120s;
    coze_auth_refresh_result_ttl    30s;
    coze_auth_unauthenticated       auto;
    coze_auth_token_header          Authorization;
    coze_auth_strip_cookie          on;
    coze_auth_timeout               5s;
    coze_auth_ssl_trusted_certificate $TEST_NGINX_DATA_DIR/ca.pem;
    coze_auth_ssl_verify            on;
    coze_auth_proxy                 "";
    coze_auth_userinfo_tokens       off;
--- config
    location = /oauth/callback { coze_auth_callback; }
    location = /oauth/logout   { coze_auth_logout /; }
    location = /oauth/me       { coze_auth on; coze_auth_userinfo; }
    location = /coze_status    { coze_auth_status; }
    location /app/ {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
    location /coze/ {
        coze_auth on;
        coze_auth_unauthenticated 401;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    }
    location /bot/ {
        coze_auth on;
        coze_auth_app_config $TEST_NGINX_APP_JWT;
        coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private.pem;
        coze_auth_jwt_public_key_id hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As;
        coze_auth_jwt_ttl 600s;
        coze_auth_jwt_session_name $remote_addr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
    location /pat/ {
        coze_auth on;
        coze_auth_client_type token;
        coze_auth_token_file $TEST_NGINX_DATA_DIR/pat_token.txt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
--- request eval
["GET /coze_status", "GET /app/page", "GET /coze/v1/users/me"]
--- more_headers
Accept: text/html
--- error_code eval
[200, 302, 401]
--- response_headers_like eval
["Content-Type: application/json.*", "Location: http://127\\.0\\.0\\.1:\\d+/api/permission/oauth2/workspace_id/7350000000000000001/authorize\\?response_type=code&client_id=92769033034183945191209058691557\\.app\\.coze&.*", ""]



=== TEST 84: app config values are used (client id, www base)
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/api/permission/oauth2/authorize\?response_type=code&client_id=92769033034183945191209058691557\.app\.coze&redirect_uri=http%3A%2F%2Flocalhost(%3A\d+)?%2Foauth%2Fcallback&state=[A-Za-z0-9_-]+



=== TEST 85: directives override the app config (client id, www base)
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_client_id 11111111111111111111111111111111.app.coze;
    coze_auth_www_base https://www.coze.com;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: https://www\.coze\.com/api/permission/oauth2/authorize\?response_type=code&client_id=11111111111111111111111111111111\.app\.coze&.*



=== TEST 86: a location overrides the client id of the server
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / {
        coze_auth on;
        coze_auth_client_id 22222222222222222222222222222222.app.coze;
    }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/api/permission/oauth2/authorize\?response_type=code&client_id=22222222222222222222222222222222\.app\.coze&.*



=== TEST 87: a location's own app config replaces the outer app
--- http_config
    coze_auth_app_config $TEST_NGINX_APP_WEB;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / {
        coze_auth on;
        coze_auth_app_config $TEST_NGINX_APP_PKCE;
        coze_auth_redirect_uri /oauth/callback;
    }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/api/permission/oauth2/authorize\?response_type=code&client_id=48707558507181157864250974164384\.app\.coze&.*&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256



=== TEST 88: default api base https://api.coze.cn, www base derived from it
--- http_config
    coze_auth_app_config $TEST_NGINX_CONF_DATA/nobase.json;
    coze_auth_redirect_uri /oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: https://www\.coze\.cn/api/permission/oauth2/authorize\?response_type=code&client_id=92769033034183945191209058691557\.app\.coze&.*



=== TEST 89: www base derived from coze_auth_api_base (api. -> www.)
--- http_config
    coze_auth_client_id 92769033034183945191209058691557.app.coze;
    coze_auth_client_secret_file $TEST_NGINX_DATA_DIR/web_client_secret.txt;
    coze_auth_api_base https://api.coze.com/;
    coze_auth_redirect_uri https://localhost/oauth/callback;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
--- config
    location / { coze_auth on; }
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: https://www\.coze\.com/api/permission/oauth2/authorize\?response_type=code&client_id=92769033034183945191209058691557\.app\.coze&redirect_uri=https%3A%2F%2Flocalhost%2Foauth%2Fcallback&state=.*



=== TEST 90: coze_auth_unauthenticated is inherited and overridden
--- app: web
--- http_config
    coze_auth_unauthenticated 401;
--- config
    location /a/ { coze_auth on; }
    location /b/ { coze_auth on; coze_auth_unauthenticated redirect; }
    location /c/ { coze_auth on; coze_auth_unauthenticated pass; return 200 "passed\n"; }
--- more_headers
Accept: text/html
--- request eval
["GET /a/", "GET /b/", "GET /c/"]
--- error_code eval
[401, 302, 200]



=== TEST 91: coze_auth_token_header: renamed, inherited, off
--- app: token
--- http_config
    coze_auth_token_header X-Coze-Token;
--- config
    location = /echo {
        return 200 "authorization=[$http_authorization] x-coze-token=[$http_x_coze_token]\n";
    }
    location /renamed {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /off {
        coze_auth on;
        coze_auth_token_header off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /renamed", "GET /off"]
--- more_headers
Authorization: Bearer from-the-client
--- response_body eval
["authorization=[Bearer from-the-client] x-coze-token=[Bearer pat_kOdU5hazAp91mACXdsOKOucu8SMAuppfi5FnolCHoDFv3HmYE17vQExdUK8V2nAZ]\n",
 "authorization=[Bearer from-the-client] x-coze-token=[]\n"]
