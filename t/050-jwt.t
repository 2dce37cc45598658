# Service tokens for JWT apps (issue 6): nginx signs an RS256 assertion,
# trades it for a czs_ token with the jwt-bearer grant, caches it in the
# shared zone per (app, session_name) for all workers, renews it ahead of
# expiry, and injects it upstream.  The mock verifies every assertion
# (signature with the registered public key, kid, iss, aud, iat/exp, jti
# never reused) and records the session_name of each token it issues; its
# OpenAPI echo (/v3/...) answers 401 to an expired or unknown token.

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();
log_level('warn');
master_on();
workers(2);
worker_connections(1024);

my $Grant = 'token:urn:ietf:params:oauth:grant-type:jwt-bearer';

# http-level directives of the mock's JWT app, with the key file, the kid
# or the whole credential part replaced
sub jwt_http {
    my (%o) = @_;
    my $key = $o{key} // '$TEST_NGINX_DATA_DIR/jwt_private.pem';
    my $kid = $o{kid} // 'hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As';
    my $cred = $o{cred} // <<"_EOC_";
    coze_auth_client_type  jwt;
    coze_auth_client_id    1173227358491;
    coze_auth_jwt_private_key_file $key;
    coze_auth_jwt_public_key_id $kid;
    coze_auth_api_base     http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;
_EOC_
    return $cred . <<"_EOC_" . ($o{extra} // '');
    coze_auth_session_key  \$TEST_NGINX_DATA_DIR/session.key;
    coze_auth_timeout      5s;
_EOC_
}

# /app/: the upstream echo; /coze/: the mock's OpenAPI (checks the token);
# /user/: one token per X-User.  X-Worker names the worker that answered.
sub jwt_server {
    return CozeConf::coze_browse_location() . <<'_EOC_';
    location /app/ {
        coze_auth on;
        add_header X-Worker $pid always;
        proxy_set_header X-Token $coze_access_token;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/app/;
    }

    location /coze/ {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    }

    location /user/ {
        coze_auth on;
        coze_auth_jwt_session_name $http_x_user;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    }
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", jwt_http())
        unless defined $block->http_config;
    $block->set_value("config", jwt_server())
        unless defined $block->config;
    if (defined $block->scenario) {
        (my $s = $block->scenario) =~ s/\bGRANT\b/$Grant/g;
        $block->set_value("request", "POST /t\n$s");
    }
    if (!defined $block->must_die) {
        $block->set_value("response_body_like", "^PASS \\d+ checks\n")
            unless defined $block->response_body_like;
        $block->set_value("error_code", 200)
            unless defined $block->error_code;
    }
    $block->set_value("timeout", 30) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: 100 requests over 2 workers: ONE token request, one czs_ token upstream
The requests go to a second server with a "reuseport" listener so that
the kernel spreads them over both workers (X-Worker shows it).
--- http_config eval
main::jwt_http() . "
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 reuseport;
" . main::jwt_server() . "
    }
"
--- config eval
main::jwt_server() . '
    location = /base {
        return 200 "http://127.0.0.1:$TEST_NGINX_RAND_PORT_1";
    }
'
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/base", "expect": {"status": 200}, "save": {"base2": "body"}},
 {"label": "100 requests", "repeat": 100, "concurrency": 50,
  "request": {"get": "${base2}/app/page", "jar": false},
  "expect_all": {"status": 200,
                 "json": {"headers.authorization": {"re": "^Bearer czs_[A-Za-z0-9]{64}$"}},
                 "distinct_bodies_max": 1,
                 "distinct_headers_min": {"X-Worker": 2},
                 "requests": {"GRANT": 1, "GRANT:200": 1}}},
 {"label": "the token Coze issued", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 1},
                      "access_tokens.0": "${last.json.headers.x-token}"}},
  "save": {"tok": "json.access_tokens.0"}},
 {"label": "the token request", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"0.json.grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                      "0.json.duration_seconds": 900,
                      "0.headers.authorization": {"re": "^Bearer [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"},
                      "1": {"exists": false}}}},
 {"label": "Coze accepts it", "get": "/coze/v3/chat?bot_id=1",
  "expect": {"status": 200,
             "json": {"code": 0, "data.token_kind": "czs", "data.session_name": null,
                      "data.headers.authorization": "Bearer ${tok}"},
             "requests": {"GRANT": 1}}}
]}



=== TEST 2: coze_auth_jwt_session_name: one token per end user, each with its session_name at Coze
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "alice", "get": "/user/v3/chat", "headers": {"X-User": "alice"},
  "expect": {"status": 200, "json": {"data.token_kind": "czs", "data.session_name": "alice"},
             "requests": {"GRANT:200": 1}},
  "save": {"ta": "json.data.headers.authorization"}},
 {"label": "bob", "get": "/user/v3/chat", "headers": {"X-User": "bob"},
  "expect": {"status": 200,
             "json": {"data.session_name": "bob",
                      "data.headers.authorization": {"ne": "${ta}"}},
             "requests": {"GRANT:200": 2}},
  "save": {"tb": "json.data.headers.authorization"}},
 {"label": "alice again: her cached token", "get": "/user/v3/chat", "headers": {"X-User": "alice"},
  "expect": {"status": 200,
             "json": {"data.session_name": "alice", "data.headers.authorization": "${ta}"},
             "requests": {"GRANT": 2}}},
 {"label": "no X-User: the app-level token", "get": "/user/v3/chat",
  "expect": {"status": 200,
             "json": {"data.session_name": null,
                      "data.headers.authorization": {"not_re": "^(${ta}|${tb})$"}},
             "requests": {"GRANT": 3}}},
 {"label": "a location without session_name shares the app-level token", "get": "/coze/v3/x",
  "expect": {"status": 200,
             "json": {"data.session_name": null,
                      "data.headers.authorization": "${last.json.data.headers.authorization}"},
             "requests": {"GRANT": 3}}}
]}



=== TEST 3: short coze_auth_jwt_ttl: renewed ahead of expiry, no request fails
With a 2 s token the renewal margin is 1 s.  Each OpenAPI call is slowed
to 0.25 s so that 32 calls, two at a time, span about 4 s: several token
lifetimes.  The OpenAPI echo refuses an expired token.
--- http_config eval
main::jwt_http(extra => "    coze_auth_jwt_ttl 2s;\n")
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "fault": {"endpoint": "openapi", "kind": "delay", "seconds": 0.25,
                     "after": true, "count": -1}}},
 {"label": "traffic over several lifetimes", "repeat": 32, "concurrency": 2,
  "request": {"get": "/coze/v3/chat"},
  "expect_all": {"status": 200, "json": {"code": 0, "data.token_kind": "czs"},
                 "requests": {"GRANT": {"min": 3}, "GRANT:200": {"min": 3}}}},
 {"label": "each asked for 2 s", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"0.json.duration_seconds": 2, "2.json.duration_seconds": 2}}}
]}



=== TEST 4: a failed renewal keeps the current token while it is valid, logged with the logid
--- http_config eval
main::jwt_http(extra => "    coze_auth_jwt_ttl 3s;\n")
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "fault": {"endpoint": "openapi", "kind": "delay", "seconds": 0.25,
                     "after": true, "count": -1}}},
 {"label": "first token", "get": "/coze/v3/chat",
  "expect": {"status": 200, "requests": {"GRANT:200": 1}}},
 {"mock": {"fault": {"endpoint": "token", "kind": "status", "status": 500}}},
 {"label": "traffic past the renewal point", "repeat": 16, "concurrency": 1,
  "request": {"get": "/coze/v3/chat"},
  "expect_all": {"status": 200, "json": {"data.token_kind": "czs"},
                 "requests": {"GRANT:500": 1, "GRANT:200": {"min": 2}}}}
]}
--- error_log eval
qr/jwt token request refused: HTTP 500, Coze error "internal_error" "Service internal error\.", logid "\d{14}[0-9A-F]{20}"/



=== TEST 5: a renewal slower than the margin: nobody gets the expired token
2 s tokens, renewed 1 s ahead, but every token request takes 1.5 s: the
old token expires while the renewal is in flight, and the requests of
that moment must wait for the new one instead of sending the expired one
(the OpenAPI echo would answer 401).
--- http_config eval
main::jwt_http(extra => "    coze_auth_jwt_ttl 2s;\n")
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "faults": [{"endpoint": "token", "kind": "delay", "seconds": 1.5, "count": -1},
                      {"endpoint": "openapi", "kind": "delay", "seconds": 0.2, "after": true,
                       "count": -1}]}},
 {"label": "traffic across renewals", "repeat": 24, "concurrency": 2,
  "request": {"get": "/coze/v3/chat"},
  "expect_all": {"status": 200, "json": {"code": 0, "data.token_kind": "czs"},
                 "requests": {"GRANT:200": {"min": 2}}}}
]}



=== TEST 6: a key Coze does not know for this kid: 502 (page) or 503 (API), logged with the logid
The failure is shared: the API request right after it gets its answer
without asking Coze again.
--- http_config eval
main::jwt_http(key => '$TEST_NGINX_DATA_DIR/jwt_other_private.pem')
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "page", "get": "/app/page",
  "expect": {"status": 502, "requests": {"GRANT:401": 1, "upstream": 0}}},
 {"label": "API", "get": "/coze/v3/chat", "headers": {"Accept": "application/json"},
  "expect": {"status": 503, "requests": {"GRANT": 1, "openapi": 0}}}
]}
--- error_log eval
qr/jwt token request refused: HTTP 401, Coze error "invalid_client" "invalid jwt: signature", logid "\d{14}[0-9A-F]{20}"/



=== TEST 7: a burst of requests while Coze fails: ONE token request, every request gets the error
The token endpoint answers 500 to every call.  The 30 concurrent requests
arrive while the first call is in flight or just after it failed, and all
take its outcome instead of asking Coze again.
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "fault": {"endpoint": "token", "kind": "status", "status": 500,
                     "count": -1}}},
 {"label": "burst", "repeat": 30, "concurrency": 30,
  "request": {"get": "/app/page", "jar": false},
  "expect_all": {"status": 502, "requests": {"GRANT": 1, "upstream": 0}}}
]}
--- error_log eval
qr/jwt token request refused: HTTP 500, Coze error "internal_error" "Service internal error\.", logid "\d{14}[0-9A-F]{20}"/



=== TEST 8: a kid Coze does not know: 502, logged with the logid
--- http_config eval
main::jwt_http(kid => 'no-such-kid-0000000000000000000000000000000')
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "page", "get": "/app/page",
  "expect": {"status": 502, "requests": {"GRANT:401": 1, "upstream": 0}}}
]}
--- error_log eval
qr/jwt token request refused: HTTP 401, Coze error "invalid_client" "invalid jwt: kid not been registred", logid "\d{14}[0-9A-F]{20}"/



=== TEST 9: a truncated PEM: nginx -t fails
--- user_files
>>> broken.pem
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
--- http_config eval
main::jwt_http(key => '../html/broken.pem')
--- must_die
--- error_log eval
qr/"coze_auth_jwt_private_key_file": .*invalid private key: PEM block "PRIVATE KEY" is truncated, no END line/



=== TEST 10: a damaged PEM body: nginx -t fails
--- user_files
>>> broken.pem
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
-----END PRIVATE KEY-----
--- http_config eval
main::jwt_http(key => '../html/broken.pem')
--- must_die
--- error_log eval
qr/"coze_auth_jwt_private_key_file": .*invalid private key: cannot decode PEM block "PRIVATE KEY"/



=== TEST 11: the public key instead of the private key: nginx -t fails
--- http_config eval
main::jwt_http(key => '$TEST_NGINX_DATA_DIR/jwt_public.pem')
--- must_die
--- error_log eval
qr/"coze_auth_jwt_private_key_file": .*invalid private key: PEM block "PUBLIC KEY" is not a private key/



=== TEST 12: the same key in PKCS#1 form ("BEGIN RSA PRIVATE KEY") is accepted
--- http_config eval
main::jwt_http(key => '$TEST_NGINX_DATA_DIR/jwt_private_pkcs1.pem')
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/coze/v3/chat",
  "expect": {"status": 200, "json": {"data.token_kind": "czs"},
             "requests": {"GRANT:200": 1}}}
]}



=== TEST 13: coze_auth_app_config with the console's JWT app file (key inline, client_type jwt)
--- http_config eval
main::jwt_http(cred => "    coze_auth_app_config " . CozeConf::app_config_file('jwt') . ";\n")
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/coze/v3/chat",
  "expect": {"status": 200,
             "json": {"data.token_kind": "czs", "data.client_id": "${app.jwt.client_id}"},
             "requests": {"GRANT:200": 1}}},
 {"get": "/app/page",
  "expect": {"status": 200,
             "json": {"headers.authorization": {"re": "^Bearer czs_"}},
             "requests": {"GRANT": 1}}}
]}



=== TEST 14: scope and the account token path reach Coze as configured
--- http_config eval
main::jwt_http(extra => <<'_EOC_')
    coze_auth_jwt_account_id 7401234567890;
    coze_auth_jwt_scope '{"account_permission":{"permission_list":["Connector.botChat"]}}';
_EOC_
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/coze/v3/chat",
  "expect": {"status": 200, "json": {"data.token_kind": "czs"},
             "requests": {"GRANT:200": 1}}},
 {"get": "${mock}/__mock/requests?endpoint=token",
  "expect": {"status": 200,
             "json": {"0.path": "/api/permission/oauth2/account/7401234567890/token",
                      "0.json.scope.account_permission.permission_list.0": "Connector.botChat",
                      "0.json.duration_seconds": 900}}}
]}



=== TEST 15: account and enterprise paths together: nginx -t fails
--- http_config eval
main::jwt_http(extra => <<'_EOC_')
    coze_auth_jwt_account_id 7401234567890;
    coze_auth_jwt_enterprise_id volcano_210195;
_EOC_
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "coze_auth_jwt_account_id" and "coze_auth_jwt_enterprise_id" exclude each other/



=== TEST 16: a scope that is not a JSON object: nginx -t fails
--- http_config eval
main::jwt_http(extra => "    coze_auth_jwt_scope '[\"Connector.botChat\"]';\n")
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "coze_auth_jwt_scope" must be a JSON object/
