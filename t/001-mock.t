# Strictness of the mock Coze server (t/mock/coze_mock.py) and of its
# browser driver.  The Coze module is NOT loaded: nginx only forwards
# "POST /t" to the mock's /__mock/browse, which runs the JSON scenario
# (absolute ${mock}/... URLs hit the mock itself, relative ones this nginx)
# and answers "PASS <n> checks" or "FAIL ..." plus a transcript.
#
# Runs under the real Test::Nginx::Socket or the bundled one
# (prove -I t/compat -I t/lib t/001-mock.t).

use lib 't/lib';
use CozeTest;
use Test::Nginx::Socket;

repeat_each(1);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/browse;
        proxy_set_header X-Browse-Base http://127.0.0.1:$server_port;
        proxy_read_timeout 60s;
    }
_EOC_
    }
    $block->set_value("response_body_like", "^PASS \\d+ checks\n")
        unless defined $block->response_body_like;
    $block->set_value("error_code", 200) unless defined $block->error_code;
    $block->set_value("timeout", 10) unless defined $block->timeout;
});

plan tests => repeat_each() * 2 * blocks();

run_tests();

__DATA__

=== TEST 1: web app happy path: authorize, code exchange, users/me, OpenAPI echo
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token"}},
 {"label": "authorize", "get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=a%2Fb%20c",
  "expect": {"status": 302, "location_re": "^http://127\\.0\\.0\\.1:1984/oauth/callback\\?code=code_[A-Za-z0-9]+&state=a%2Fb%20c$",
             "header_re": {"X-Tt-Logid": "^\\d{14}[0-9A-F]{20}$"}},
  "save": {"code": "location_param.code"}},
 {"label": "exchange", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}", "Content-Type": "application/json; charset=utf-8"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 200, "header_re": {"Content-Type": "^application/json", "X-Tt-Logid": "^\\d{14}[0-9A-F]{20}$"},
             "json": {"access_token": {"re": "^czu_[A-Za-z0-9]{64}$"}, "refresh_token": {"re": "^[A-Za-z0-9]{72}$"},
                      "expires_in": {"gt": "${now+890}", "lt": "${now+910}"}, "token_type": {"exists": false}}},
  "save": {"at": "json.access_token"}},
 {"label": "users/me", "get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at}"},
  "expect": {"status": 200, "json": {"code": 0, "msg": "", "data.user_id": "7380000000000000001", "data.user_name": "alice_test",
             "data.nick_name": "Alice", "data.avatar_url": {"re": "^https://"}, "detail.logid": {"re": "^\\d{14}[0-9A-F]{20}$"}}}},
 {"label": "openapi", "get": "${mock}/v3/chat?bot_id=1", "headers": {"Authorization": "Bearer ${at}"}, "body": {"stream": false, "q": "hi"},
  "expect": {"status": 200, "json": {"code": 0, "data.method": "POST", "data.path": "/v3/chat", "data.args.bot_id": "1",
             "data.json.q": "hi", "data.token_kind": "czu", "data.headers.authorization": "Bearer ${at}"}}},
 {"label": "X-Mock-User", "get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:http://localhost:1984/oauth/callback}",
  "headers": {"X-Mock-User": "7380000000000000002"},
  "expect": {"status": 302, "location_lacks_params": ["state"]}, "save": {"code2": "location_param.code"}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code2}", "client_id": "${app.web.client_id}", "redirect_uri": "http://localhost:1984/oauth/callback"},
  "expect": {"status": 200}, "save": {"at2": "json.access_token"}},
 {"get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at2}"},
  "expect": {"json": {"data.user_id": "7380000000000000002", "data.user_name": "bob_test", "data.nick_name": {"re": "<b>"}}}},
 {"get": "${mock}/__mock/counts", "expect": {"json": {"authorize": 2, "token": 2, "token:authorization_code": 2, "users_me": 2, "openapi": 1}}}
]}



=== TEST 2: web app: wrong, missing or non-Bearer client secret is rejected with 401 invalid_client
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token"}},
 {"get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=s",
  "expect": {"status": 302}, "save": {"code": "location_param.code"}},
 {"set": {"body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"}}},
 {"label": "wrong secret", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}x"}, "body": "${body}",
  "expect": {"status": 401, "header_re": {"Content-Type": "^application/json", "X-Tt-Logid": "^\\d{14}[0-9A-F]{20}$"},
             "json": {"error_code": "invalid_client", "error": "invalid_client", "error_message": {"type": "string"}, "access_token": {"exists": false}}}},
 {"label": "no header", "get": "${tok}", "body": "${body}", "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "empty Bearer", "get": "${tok}", "headers": {"Authorization": "Bearer "}, "body": "${body}", "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "Basic", "get": "${tok}", "headers": {"Authorization": "Basic ${b64url:${app.web.client_id}:${app.web.client_secret}}"}, "body": "${body}",
  "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "secret in body", "get": "${tok}", "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}", "client_secret": "${app.web.client_secret}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "other app's secret", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web_disabled.client_secret}"}, "body": "${body}",
  "expect": {"status": 401}},
 {"label": "failed attempts do not burn the code", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"}, "body": "${body}",
  "expect": {"status": 200, "json": {"access_token": {"re": "^czu_"}}}},
 {"label": "unknown client_id", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "12345678901234567890123456789012.app.coze", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "disabled app", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web_disabled.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web_disabled.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 403, "json": {"error_code": "access_deny", "error_message": {"re": "deactivated by the owner"}}}}
]}



=== TEST 3: codes are single use and bound to client_id and redirect_uri
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "az": "${mock}/api/permission/oauth2/authorize?response_type=code&state=&redirect_uri=${urlenc:${app.web.redirect_uri}}&client_id="}},
 {"get": "${az}${app.web.client_id}", "expect": {"status": 302, "location_re": "&state=$"}, "save": {"code": "location_param.code"}},
 {"label": "wrong redirect_uri", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "http://localhost:1984/oauth/callback"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: redirect_uri"}}},
 {"label": "missing redirect_uri", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: redirect_uri"}}},
 {"label": "code of another client", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.web.redirect_uri}", "code_verifier": "x"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code"}}},
 {"label": "first use", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 200}, "save": {"at": "json.access_token"}},
 {"label": "reuse", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: code", "error": "invalid_request"}}},
 {"label": "made-up code", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "code_${rand}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code"}}},
 {"label": "expired code", "get": "${az}${app.web.client_id}", "expect": {"status": 302}, "save": {"c2": "location_param.code"}},
 {"mock": {"expire": {"code": "${c2}"}}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${c2}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code"}}},
 {"label": "reuse revokes when configured", "mock": {"config": {"revoke_on_code_reuse": true}}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400}},
 {"get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at}"}, "expect": {"status": 401, "json": {"code": 4100}}}
]}



=== TEST 4: refresh tokens rotate and work exactly once
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token"}},
 {"get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=s",
  "expect": {"status": 302}, "save": {"code": "location_param.code"}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 200}, "save": {"at1": "json.access_token", "rt1": "json.refresh_token"}},
 {"label": "refresh without secret", "get": "${tok}", "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt1}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"label": "refresh", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt1}"},
  "expect": {"status": 200, "json": {"access_token": {"re": "^czu_", "ne": "${at1}"}, "refresh_token": {"re": "^[A-Za-z0-9]{72}$", "ne": "${rt1}"}, "expires_in": {"gt": "${now+890}"}}},
  "save": {"at2": "json.access_token", "rt2": "json.refresh_token"}},
 {"label": "reuse of the old refresh token", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt1}"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: refresh_token", "error": "invalid_request"}}},
 {"label": "old access token still valid", "get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at1}"}, "expect": {"status": 200}},
 {"label": "refresh of another client", "get": "${tok}", "body": {"grant_type": "refresh_token", "client_id": "${app.pkce.client_id}", "refresh_token": "${rt2}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: refresh_token"}}},
 {"label": "configurable error", "mock": {"config": {"refresh_error": {"status": 400, "error_code": "invalid_grant", "error_message": "refresh token is invalid"}}}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt1}"},
  "expect": {"status": 400, "json": {"error_code": "invalid_grant", "error": "invalid_grant"}}},
 {"label": "second refresh works", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt2}"},
  "expect": {"status": 200}, "save": {"rt3": "json.refresh_token"}},
 {"mock": {"expire": {"refresh_token": "${rt3}"}}},
 {"label": "expired refresh token", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "refresh_token", "client_id": "${app.web.client_id}", "refresh_token": "${rt3}"},
  "expect": {"status": 400, "requests": {"token:refresh_token": 7, "token:refresh_token:200": 2}}}
]}



=== TEST 5: PKCE plain: verifier checked, no secret allowed, every "no secret" form accepted
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token",
          "az": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.pkce.client_id}&redirect_uri=${urlenc:${app.pkce.redirect_uri}}&state=p"}},
 {"label": "challenge required", "get": "${az}", "expect": {"status": 400, "no_header": ["Location"], "body_re": "invalid request: code_challenge"}},
 {"label": "unknown method", "get": "${az}&code_challenge=abc&code_challenge_method=S512", "expect": {"status": 400}},
 {"label": "plain by default", "get": "${az}&code_challenge=verifier-0123456789", "expect": {"status": 302}, "save": {"code": "location_param.code"}},
 {"set": {"b": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}"}}},
 {"label": "bad verifier", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "verifier-0123456780"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: code_verifier"}}},
 {"label": "missing verifier", "get": "${tok}", "body": "${b}", "expect": {"status": 400, "json": {"error_message": "invalid request: code_verifier"}}},
 {"label": "S256 of the plain challenge is wrong", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "${s256:verifier-0123456789}"},
  "expect": {"status": 400}},
 {"label": "secret sent", "get": "${tok}", "headers": {"Authorization": "Bearer some-secret"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "verifier-0123456789"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: client_secret"}}},
 {"label": "Go style 'Bearer'", "get": "${tok}", "headers": {"Authorization": "Bearer"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "verifier-0123456789"},
  "expect": {"status": 200}, "save": {"rt": "json.refresh_token"}},
 {"label": "JS style 'Bearer '", "get": "${tok}", "headers": {"Authorization": "Bearer "},
  "body": {"grant_type": "refresh_token", "client_id": "${app.pkce.client_id}", "refresh_token": "${rt}"},
  "expect": {"status": 200}, "save": {"rt": "json.refresh_token"}},
 {"label": "Python style: no header", "get": "${tok}", "body": {"grant_type": "refresh_token", "client_id": "${app.pkce.client_id}", "refresh_token": "${rt}"},
  "expect": {"status": 200}},
 {"label": "refresh reuse", "get": "${tok}", "body": {"grant_type": "refresh_token", "client_id": "${app.pkce.client_id}", "refresh_token": "${rt}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: refresh_token"}}}
]}



=== TEST 6: PKCE S256: verifier checked against the SHA-256 challenge
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "vector": "${s256:code_verifier}",
          "az": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.pkce.client_id}&redirect_uri=${urlenc:${app.pkce.redirect_uri}}&state=p&code_challenge_method=S256&code_challenge="}},
 {"label": "spec test vector", "get": "${mock}/__upstream/?v=${vector}", "expect": {"json": {"args.v": "73oehA2tBul5grZPhXUGQwNAjxh69zNES8bu2bVD0EM"}}},
 {"label": "malformed S256 challenge", "get": "${az}short", "expect": {"status": 400}},
 {"get": "${az}${vector}", "expect": {"status": 302, "location_has_params": ["code", "state"]}, "save": {"code": "location_param.code"}},
 {"label": "challenge itself as verifier", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "${vector}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code_verifier"}}},
 {"label": "wrong verifier", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "code_verifieR"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code_verifier"}}},
 {"label": "right verifier", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "code_verifier"},
  "expect": {"status": 200, "json": {"access_token": {"re": "^czu_"}, "refresh_token": {"type": "string"}}}},
 {"label": "reused", "get": "${tok}",
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "${app.pkce.redirect_uri}", "code_verifier": "code_verifier"},
  "expect": {"status": 400}},
 {"get": "${mock}/__mock/secrets", "expect": {"json": {"verifiers": ["${vector}", "code_verifieR", "code_verifier"]}}}
]}



=== TEST 7: JWT bearer happy paths (PKCS#8 and PKCS#1 keys, both aud forms, path variants)
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "g": "urn:ietf:params:oauth:grant-type:jwt-bearer"}},
 {"jwt": {"key": "t/data/jwt_private.pem", "claims": {"aud": "127.0.0.1:${mock_port}", "session_name": "visitor-1"}, "save_as": "j1"}},
 {"label": "Python style", "get": "${tok}", "headers": {"Authorization": "Bearer ${j1}"}, "body": {"grant_type": "${g}", "duration_seconds": 900, "scope": null},
  "expect": {"status": 200, "json": {"access_token": {"re": "^czs_[A-Za-z0-9]{64}$"}, "expires_in": {"gt": "${now+895}", "lt": "${now+905}"}, "refresh_token": {"exists": false}}},
  "save": {"st": "json.access_token"}},
 {"label": "session_name remembered", "get": "${mock}/v3/chat", "headers": {"Authorization": "Bearer ${st}"}, "body": {"x": 1},
  "expect": {"json": {"data.token_kind": "czs", "data.session_name": "visitor-1", "data.client_id": "${app.jwt.client_id}"}}},
 {"jwt": {"key": "t/data/jwt_private_pkcs1.pem", "claims": {"aud": "localhost"}, "save_as": "j2"}},
 {"label": "Java style aud, Go style body", "get": "${tok}", "headers": {"Authorization": "Bearer ${j2}"},
  "body": {"grant_type": "${g}", "client_id": "${app.jwt.client_id}", "duration_seconds": 86399},
  "expect": {"status": 200, "json": {"expires_in": {"gt": "${now+86390}"}}}},
 {"jwt": {"key": "t/data/jwt2_private.pem", "kid": "${app.jwt.kid2}", "save_as": "j3"}},
 {"label": "second registered key", "get": "${tok}", "headers": {"Authorization": "Bearer ${j3}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 200, "json": {"expires_in": {"gt": "${now+895}", "lt": "${now+905}"}}}},
 {"jwt": {"save_as": "j4"}},
 {"label": "account path", "get": "${mock}/api/permission/oauth2/account/7390000000000000001/token", "headers": {"Authorization": "Bearer ${j4}"},
  "body": {"grant_type": "${g}", "account_id": 7390000000000000001}, "expect": {"status": 200}},
 {"jwt": {"save_as": "j5"}},
 {"label": "enterprise path with scope", "get": "${mock}/api/permission/oauth2/enterprise_id/volcano_2101950001/token", "headers": {"Authorization": "Bearer ${j5}"},
  "body": {"grant_type": "${g}", "scope": {"account_permission": {"permission_list": ["Connector.botChat"]}, "attribute_constraint": {"connector_bot_chat_attribute": {"bot_id_list": ["7"]}}}},
  "expect": {"status": 200}},
 {"label": "code-flow grant on the account path", "get": "${mock}/api/permission/oauth2/account/1/token", "body": {"grant_type": "refresh_token"},
  "expect": {"status": 400, "json": {"error_code": "invalid_request"}}}
]}



=== TEST 8: JWT: bad signature, unknown key, wrong registered kid
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "g": "urn:ietf:params:oauth:grant-type:jwt-bearer"}},
 {"jwt": {"key": "t/data/jwt_other_private.pem", "save_as": "other"}},
 {"label": "unregistered key", "get": "${tok}", "headers": {"Authorization": "Bearer ${other}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client", "error_message": "invalid jwt: signature"}}},
 {"jwt": {"signature": "flip", "save_as": "flipped"}},
 {"label": "flipped signature", "get": "${tok}", "headers": {"Authorization": "Bearer ${flipped}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_message": "invalid jwt: signature"}}},
 {"jwt": {"signature": "none", "header": {"alg": "none"}, "save_as": "none"}},
 {"label": "alg none", "get": "${tok}", "headers": {"Authorization": "Bearer ${none}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"jwt": {"kid": "${app.jwt.kid2}", "save_as": "wrongkid"}},
 {"label": "other registered kid", "get": "${tok}", "headers": {"Authorization": "Bearer ${wrongkid}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_message": "invalid jwt: signature"}}},
 {"jwt": {"kid": "_v0VjcMlLdQc3tRTD3jC5Xz29TUnKQOhtuD5k-gpyf4", "save_as": "unknownkid"}},
 {"label": "unknown kid", "get": "${tok}", "headers": {"Authorization": "Bearer ${unknownkid}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client", "error_message": "invalid jwt: kid not been registred", "error": "invalid_client"}}},
 {"jwt": {"header": {"kid": null}, "save_as": "nokid"}},
 {"label": "no kid", "get": "${tok}", "headers": {"Authorization": "Bearer ${nokid}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"header": {"typ": "JWS"}, "save_as": "typ"}},
 {"label": "typ", "get": "${tok}", "headers": {"Authorization": "Bearer ${typ}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401, "json": {"error_message": "invalid jwt: typ"}}},
 {"label": "not a JWT", "get": "${tok}", "headers": {"Authorization": "Bearer abc.def"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"label": "no JWT", "get": "${tok}", "body": {"grant_type": "${g}"}, "expect": {"status": 401, "json": {"error_code": "invalid_client"}}},
 {"get": "${mock}/__mock/counts", "expect": {"json": {"token:urn:ietf:params:oauth:grant-type:jwt-bearer": 9}}}
]}



=== TEST 9: JWT: expired, exp not after iat, iat in the future, reused jti
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "g": "urn:ietf:params:oauth:grant-type:jwt-bearer"}},
 {"jwt": {"claims": {"iat": "${now-700}", "exp": "${now-100}"}, "save_as": "expired"}},
 {"label": "expired", "get": "${tok}", "headers": {"Authorization": "Bearer ${expired}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client", "error_message": {"re": "expired"}}}},
 {"jwt": {"claims": {"iat": "${now}", "exp": "${now}"}, "save_as": "same"}},
 {"label": "exp == iat", "get": "${tok}", "headers": {"Authorization": "Bearer ${same}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"claims": {"iat": "${now+300}", "exp": "${now+900}"}, "save_as": "future"}},
 {"label": "iat in the future", "get": "${tok}", "headers": {"Authorization": "Bearer ${future}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_message": "invalid jwt: iat"}}},
 {"jwt": {"claims": {"iat": "${now+5}"}, "save_as": "skew"}},
 {"label": "small skew is fine", "get": "${tok}", "headers": {"Authorization": "Bearer ${skew}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 200}},
 {"jwt": {"claims": {"iat": "${now_ms}", "exp": "${now_ms}"}, "save_as": "ms"}},
 {"label": "milliseconds", "get": "${tok}", "headers": {"Authorization": "Bearer ${ms}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"claims": {"jti": "fixed-jti-0001"}, "save_as": "a"}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${a}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 200}},
 {"label": "same JWT again", "get": "${tok}", "headers": {"Authorization": "Bearer ${a}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client", "error_message": {"re": "jti"}}}},
 {"jwt": {"claims": {"jti": "fixed-jti-0001"}, "save_as": "b"}},
 {"label": "new JWT, same jti", "get": "${tok}", "headers": {"Authorization": "Bearer ${b}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_message": {"re": "jti"}}}},
 {"jwt": {"claims": {"jti": null}, "save_as": "nojti"}},
 {"label": "no jti", "get": "${tok}", "headers": {"Authorization": "Bearer ${nojti}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"save_as": "d"}},
 {"label": "duration_seconds too large", "get": "${tok}", "headers": {"Authorization": "Bearer ${d}"}, "body": {"grant_type": "${g}", "duration_seconds": 86400},
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: duration_seconds"}}},
 {"jwt": {"save_as": "e"}},
 {"label": "duration_seconds as a string", "get": "${tok}", "headers": {"Authorization": "Bearer ${e}"}, "body": {"grant_type": "${g}", "duration_seconds": "900"},
  "expect": {"status": 400}},
 {"jwt": {"save_as": "f"}},
 {"label": "scope not an object", "get": "${tok}", "headers": {"Authorization": "Bearer ${f}"}, "body": {"grant_type": "${g}", "scope": "all"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: scope"}}}
]}



=== TEST 10: JWT: wrong aud, wrong iss
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "g": "urn:ietf:params:oauth:grant-type:jwt-bearer"}},
 {"jwt": {"claims": {"aud": "api.coze.cn"}, "save_as": "a1"}},
 {"label": "production aud", "get": "${tok}", "headers": {"Authorization": "Bearer ${a1}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_code": "invalid_client", "error_message": "invalid jwt: aud"}}},
 {"jwt": {"claims": {"aud": "http://127.0.0.1:${mock_port}"}, "save_as": "a2"}},
 {"label": "aud with scheme", "get": "${tok}", "headers": {"Authorization": "Bearer ${a2}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"claims": {"aud": ["127.0.0.1:${mock_port}"]}, "save_as": "a3"}},
 {"label": "aud array", "get": "${tok}", "headers": {"Authorization": "Bearer ${a3}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"claims": {"aud": "127.0.0.1:1"}, "save_as": "a4"}},
 {"label": "wrong port", "get": "${tok}", "headers": {"Authorization": "Bearer ${a4}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 401}},
 {"jwt": {"claims": {"iss": "1000000000000"}, "save_as": "i1"}},
 {"label": "wrong iss", "get": "${tok}", "headers": {"Authorization": "Bearer ${i1}"}, "body": {"grant_type": "${g}"},
  "expect": {"status": 401, "json": {"error_message": "invalid jwt: iss"}}},
 {"label": "extra audience by config", "mock": {"config": {"jwt_audiences": ["api.coze.cn"]}}},
 {"jwt": {"claims": {"aud": "api.coze.cn"}, "save_as": "a5"}},
 {"get": "${tok}", "headers": {"Authorization": "Bearer ${a5}"}, "body": {"grant_type": "${g}"}, "expect": {"status": 200}}
]}



=== TEST 11: token endpoint wants a JSON object body with a JSON content type
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token"}},
 {"get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=s",
  "expect": {"status": 302}, "save": {"code": "location_param.code"}},
 {"label": "form encoded", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}", "Content-Type": "application/x-www-form-urlencoded"},
  "body": "grant_type=authorization_code&code=${code}&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}",
  "expect": {"status": 400, "json": {"error_code": "invalid_request", "error_message": "invalid request: content-type"}}},
 {"label": "JSON as text/plain", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}", "Content-Type": "text/plain"},
  "body": "{\"grant_type\": \"authorization_code\", \"code\": \"${code}\", \"client_id\": \"${app.web.client_id}\", \"redirect_uri\": \"${app.web.redirect_uri}\"}",
  "expect": {"status": 400, "json": {"error_message": "invalid request: content-type"}}},
 {"label": "no content type", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": "{\"grant_type\": \"authorization_code\", \"code\": \"${code}\", \"client_id\": \"${app.web.client_id}\", \"redirect_uri\": \"${app.web.redirect_uri}\"}",
  "expect": {"status": 400}},
 {"label": "latin1 charset", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}", "Content-Type": "application/json; charset=iso-8859-1"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"}, "expect": {"status": 400}},
 {"label": "invalid JSON", "get": "${tok}", "headers": {"Content-Type": "application/json"}, "body": "{\"grant_type\": ",
  "expect": {"status": 400, "json": {"error_message": "invalid request: body"}}},
 {"label": "JSON array", "get": "${tok}", "body": [1, 2], "expect": {"status": 400, "json": {"error_message": "invalid request: body"}}},
 {"label": "GET", "get": "${tok}", "expect": {"status": 405}},
 {"label": "no grant_type", "get": "${tok}", "body": {"code": "x"}, "expect": {"status": 400, "json": {"error_message": "invalid request: grant_type"}}},
 {"label": "unsupported grant", "get": "${tok}", "body": {"grant_type": "client_credentials"},
  "expect": {"status": 400, "json": {"error_code": "unsupported_grant_type", "error_message": "not supported grant type: client_credentials", "error": "unsupported_grant_type"}}},
 {"label": "code not a string", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": 1, "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: code"}}},
 {"label": "two Authorization headers", "get": "${tok}", "headers": [["Authorization", "Bearer ${app.web.client_secret}"], ["Authorization", "Bearer ${app.web.client_secret}"]],
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "expect": {"status": 400, "json": {"error_message": "invalid request: authorization"}}},
 {"label": "the code is still good: all of the above were refused", "get": "${tok}", "headers": {"Authorization": "Bearer ${app.web.client_secret}", "Content-Type": "Application/JSON;charset=UTF-8"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"}, "expect": {"status": 200}}
]}



=== TEST 12: authorize: unregistered redirect_uri and other bad requests get Coze's error page, never a redirect
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"az": "${mock}/api/permission/oauth2/authorize"}},
 {"label": "unregistered port", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:http://127.0.0.1:1985/oauth/callback}&state=s",
  "expect": {"status": 400, "no_header": ["Location"], "header_re": {"Content-Type": "^text/html"}, "body_re": "invalid request: redirect_uri"}},
 {"label": "trailing slash", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}/}&state=s", "expect": {"status": 400}},
 {"label": "extra query", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}?x=1}&state=s", "expect": {"status": 400}},
 {"label": "other host", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:http://evil.example/oauth/callback}&state=s", "expect": {"status": 400}},
 {"label": "missing", "get": "${az}?response_type=code&client_id=${app.web.client_id}&state=s", "expect": {"status": 400}},
 {"label": "twice", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&redirect_uri=${urlenc:${app.web.redirect_uri}}", "expect": {"status": 400}},
 {"label": "response_type token", "get": "${az}?response_type=token&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}", "expect": {"status": 400}},
 {"label": "unknown client", "get": "${az}?response_type=code&client_id=1.app.coze&redirect_uri=${urlenc:${app.web.redirect_uri}}", "expect": {"status": 400}},
 {"label": "JWT app", "get": "${az}?response_type=code&client_id=${app.jwt.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}", "expect": {"status": 400, "body_re": "invalid app type"}},
 {"label": "POST", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}", "method": "POST", "expect": {"status": 405}},
 {"label": "register at run time", "mock": {"config": {"redirect_uris": {"web": ["http://127.0.0.1:1985/oauth/callback"]}}}},
 {"get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:http://127.0.0.1:1985/oauth/callback}&state=s",
  "expect": {"status": 302, "location_re": "^http://127\\.0\\.0\\.1:1985/oauth/callback\\?code="}},
 {"label": "workspace variant", "get": "${mock}/api/permission/oauth2/workspace_id/7400000000000000001/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=w",
  "expect": {"status": 302, "location_params": {"state": "^w$", "code": "^code_"}}},
 {"label": "denied by the user", "get": "${az}?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}&state=d", "headers": {"X-Mock-Consent": "deny"},
  "expect": {"status": 302, "location_params": {"error": "^access_denied$", "state": "^d$"}, "location_lacks_params": ["code"]}},
 {"get": "${mock}/__mock/counts", "expect": {"json": {"authorize": 13}}}
]}



=== TEST 13: users/me and OpenAPI: bad, expired, missing or doubled tokens get 401 code 4100
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"me": "${mock}/v1/users/me"}},
 {"label": "made-up", "get": "${me}", "headers": {"Authorization": "Bearer czu_${rand:64}"},
  "expect": {"status": 401, "header_re": {"Content-Type": "^application/json", "X-Tt-Logid": "^\\d{14}[0-9A-F]{20}$"},
             "json": {"code": 4100, "msg": "authentication is invalid", "detail.logid": {"re": "^\\d{14}[0-9A-F]{20}$"}}}},
 {"label": "none", "get": "${me}", "expect": {"status": 401, "json": {"code": 4100}}},
 {"label": "empty Bearer", "get": "${me}", "headers": {"Authorization": "Bearer "}, "expect": {"status": 401}},
 {"label": "refresh token is not an access token", "get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}",
  "save": {"code": "location_param.code"}},
 {"get": "${mock}/api/permission/oauth2/token", "headers": {"Authorization": "Bearer ${app.web.client_secret}"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"},
  "save": {"at": "json.access_token", "rt": "json.refresh_token"}},
 {"get": "${me}", "headers": {"Authorization": "Bearer ${rt}"}, "expect": {"status": 401}},
 {"label": "token without scheme", "get": "${me}", "headers": {"Authorization": "${at}"}, "expect": {"status": 401}},
 {"label": "doubled header", "get": "${me}", "headers": [["Authorization", "Bearer ${at}"], ["Authorization", "Bearer ${at}"]], "expect": {"status": 401, "json": {"code": 4100}}},
 {"label": "valid", "get": "${me}", "headers": {"Authorization": "bearer ${at}"}, "expect": {"status": 200, "json": {"code": 0}}},
 {"mock": {"expire": {"access_token": "${at}"}}},
 {"label": "expired", "get": "${me}", "headers": {"Authorization": "Bearer ${at}"}, "expect": {"status": 401, "json": {"code": 4100}}},
 {"get": "${mock}/v3/chat", "headers": {"Authorization": "Bearer ${at}"}, "body": {}, "expect": {"status": 401, "json": {"code": 4100}}},
 {"label": "PAT and SAT", "get": "${mock}/v1/bots?x=1", "headers": {"Authorization": "Bearer ${pat}"}, "expect": {"status": 200, "json": {"data.token_kind": "pat"}}},
 {"get": "${me}", "headers": {"Authorization": "Bearer ${pat}"}, "expect": {"status": 200, "json": {"data.user_id": "7380000000000000001"}}},
 {"get": "${mock}/v3/chat", "headers": {"Authorization": "Bearer ${sat}"}, "body": {"a": 1}, "expect": {"status": 200, "json": {"data.token_kind": "sat"}}},
 {"label": "unregistered PAT", "get": "${mock}/v3/chat", "headers": {"Authorization": "Bearer pat_${rand:64}"}, "body": {}, "expect": {"status": 401}},
 {"mock": {"expire": {"all": true}}},
 {"get": "${mock}/v3/chat", "headers": {"Authorization": "Bearer ${pat}"}, "body": {}, "expect": {"status": 401}}
]}



=== TEST 14: faults: status, malformed, truncated, reset, hang, delay, content type, size
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"me": "${mock}/v1/users/me", "h": {"Authorization": "Bearer ${pat}"}}},
 {"mock": {"fault": [
   {"endpoint": "users_me", "kind": "status", "status": 503, "code": 5000, "msg": "busy"},
   {"endpoint": "users_me", "kind": "status", "status": 502, "body": "<html>bad gateway</html>"},
   {"endpoint": "users_me", "kind": "malformed"},
   {"endpoint": "users_me", "kind": "truncated"},
   {"endpoint": "users_me", "kind": "reset"},
   {"endpoint": "users_me", "kind": "hang"},
   {"endpoint": "users_me", "kind": "delay", "seconds": 0.6},
   {"endpoint": "users_me", "kind": "wrong_content_type"},
   {"endpoint": "users_me", "kind": "huge", "bytes": 3000000}]}},
 {"label": "status", "get": "${me}", "headers": "${h}", "expect": {"status": 503, "json": {"code": 5000, "msg": "busy"}}},
 {"label": "non-JSON status", "get": "${me}", "headers": "${h}", "expect": {"status": 502, "body": "<html>bad gateway</html>"}},
 {"label": "malformed", "get": "${me}", "headers": "${h}", "expect": {"status": 200, "header_re": {"Content-Type": "application/json"}, "body_not_re": "}\\s*$"}},
 {"label": "truncated", "get": "${me}", "headers": "${h}", "expect": {"error": "IncompleteRead"}},
 {"label": "reset", "get": "${me}", "headers": "${h}", "expect": {"error": "(?i)reset|RemoteDisconnected|BadStatusLine"}},
 {"label": "hang", "get": "${me}", "headers": "${h}", "timeout": 0.5, "expect": {"error": "timeout"}},
 {"label": "delay", "get": "${me}", "headers": "${h}", "expect": {"status": 200, "time_min": 0.5}},
 {"label": "content type", "get": "${me}", "headers": "${h}", "expect": {"status": 200, "header_re": {"Content-Type": "^text/html"}, "json": {"code": 0}}},
 {"label": "huge", "get": "${me}", "headers": "${h}", "expect": {"status": 200, "header_re": {"Content-Length": "^3\\d{6}$"}, "json": {"data.user_id": "7380000000000000001"}}},
 {"label": "queue drained", "get": "${me}", "headers": "${h}", "expect": {"status": 200, "body_re": "^\\{\"code\": 0"}},
 {"label": "grant_type match, count", "mock": {"fault": {"endpoint": "token", "grant_type": "refresh_token", "kind": "status", "status": 500, "count": 2}}},
 {"get": "${mock}/api/permission/oauth2/token", "body": {"grant_type": "authorization_code"}, "expect": {"status": 400}},
 {"get": "${mock}/api/permission/oauth2/token", "body": {"grant_type": "refresh_token"}, "expect": {"status": 500, "json": {"error_code": "internal_error", "error": "internal_error"}}},
 {"get": "${mock}/api/permission/oauth2/token", "body": {"grant_type": "refresh_token"}, "expect": {"status": 500}},
 {"get": "${mock}/api/permission/oauth2/token", "body": {"grant_type": "refresh_token"}, "expect": {"status": 400}},
 {"get": "${mock}/__mock/requests?endpoint=users_me", "expect": {"json": {"0.fault": "status", "5.fault": "hang", "5.status": 0, "9.fault": null, "9.headers.authorization": "Bearer ${pat}"}}}
]}



=== TEST 15: truncated and wrong_content_type still process the request (a lost answer burns the code)
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.web.client_id}&redirect_uri=${urlenc:${app.web.redirect_uri}}",
  "save": {"code": "location_param.code"}},
 {"mock": {"fault": {"endpoint": "token", "kind": "truncated"}}},
 {"set": {"b": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.web.client_id}", "redirect_uri": "${app.web.redirect_uri}"}}},
 {"get": "${mock}/api/permission/oauth2/token", "headers": {"Authorization": "Bearer ${app.web.client_secret}"}, "body": "${b}", "expect": {"error": true}},
 {"get": "${mock}/api/permission/oauth2/token", "headers": {"Authorization": "Bearer ${app.web.client_secret}"}, "body": "${b}",
  "expect": {"status": 400, "json": {"error_message": "invalid request: code"}}},
 {"get": "${mock}/__mock/secrets", "expect": {"json": {"access_tokens": {"len": 1}, "refresh_tokens": {"len": 1}, "codes": ["${code}"]}}}
]}



=== TEST 16: browser driver against nginx: redirects across hosts, cookie jar, Secure cookies, tampering
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/browse;
        proxy_set_header X-Browse-Base http://127.0.0.1:$server_port;
        proxy_read_timeout 60s;
    }
    location = /login {
        return 302 "http://127.0.0.1:$TEST_NGINX_MOCK_PORT/api/permission/oauth2/authorize?response_type=code&client_id=$arg_cid&redirect_uri=http%3A%2F%2F127.0.0.1%3A$server_port%2Foauth%2Fcallback&state=st1";
    }
    location = /oauth/callback {
        add_header Set-Cookie "sess=$arg_code; Path=/; HttpOnly; SameSite=Lax";
        add_header Set-Cookie "st=; Path=/; Max-Age=0";
        return 302 /app/home;
    }
    location /app/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
        proxy_set_header Authorization "Bearer from-nginx";
    }
    location = /secure {
        add_header Set-Cookie "sec=1; Secure; Path=/";
        add_header Set-Cookie "sub=2; Path=/app/sub";
        add_header Set-Cookie "st=old; Path=/";
        return 200 ok;
    }
    location = /expire {
        add_header Set-Cookie "st=; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Path=/";
        return 204;
    }
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"mock": {"config": {"redirect_uris": {"web": ["${base}/oauth/callback"]}}}},
 {"label": "login", "get": "/login?cid=${app.web.client_id}", "follow": true,
  "expect": {"status": 200, "hops": 4, "url_re": "/app/home$",
             "set_cookie": {"sess": {"present": true, "attrs_re": "(?i)httponly", "value_re": "^code_"}, "st": {"deleted": true}},
             "json": {"path": "/__upstream/home", "headers.authorization": "Bearer from-nginx", "headers.cookie": {"re": "^sess=code_\\w+$"}},
             "requests": {"authorize": 1, "upstream": 1}, "jar": {"sess": true, "st": false}}},
 {"get": "/secure", "expect": {"set_cookie": {"sec": {"attrs_re": "Secure"}}, "jar": {"sec": true}}},
 {"label": "Secure and path-scoped cookies are not sent", "get": "/app/x", "expect": {"json": {"headers.cookie": {"re": "^sess=code_\\w+; st=old$"}}}},
 {"get": "/app/sub/y", "expect": {"json": {"headers.cookie": {"re": "^sub=2; sess=code_\\w+; st=old$"}}}},
 {"get": "/expire", "expect": {"status": 204, "set_cookie": {"st": {"deleted": true}}, "jar": {"st": false}}},
 {"set": {"orig": "${cookie.main.sess}"}},
 {"label": "tamper", "cookie": {"name": "sess", "op": "flipbit"}},
 {"get": "/app/z", "expect": {"json": {"headers.cookie": {"re": "^sess=code_\\w+$", "ne": "sess=${orig}"}}}},
 {"cookie": {"name": "sess", "op": "truncate", "length": 5}},
 {"get": "/app/z", "expect": {"json": {"headers.cookie": "sess=code_"}}},
 {"label": "second jar", "get": "/app/z", "jar": "b", "expect": {"json": {"headers.cookie": {"exists": false}}}},
 {"cookie": {"jar": "b", "name": "sess", "copy_from_jar": "main"}},
 {"get": "/app/z", "jar": "b", "expect": {"json": {"headers.cookie": "sess=code_"}}},
 {"cookie": {"jar": "b", "name": "sess", "op": "delete"}},
 {"get": "/app/z", "jar": "b", "expect": {"json": {"headers.cookie": {"exists": false}}}},
 {"cookie": {"jar": "c", "name": "sess", "set": "forged"}},
 {"get": "/app/z", "jar": "c", "expect": {"json": {"headers.cookie": "sess=forged"}}},
 {"label": "${last.*} and headers", "get": "/app/echo?v=${last.json.headers.cookie}", "headers": {"X-A": "1", "User-Agent": null},
  "expect": {"json": {"args.v": "sess=forged", "path": "/__upstream/echo?v=sess=forged", "uri": "/__upstream/echo", "headers.x-a": "1", "headers.user-agent": {"exists": false}}}}
]}



=== TEST 17: browser driver: parallel, repeat, abort, wait_until, slow answers
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/browse;
        proxy_set_header X-Browse-Base http://127.0.0.1:$server_port;
        proxy_read_timeout 60s;
    }
    location /app/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
--- timeout: 15
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"parallel": [[{"label": "slow", "get": "/app/slow?__delay=0.8"}], [{"label": "fast", "get": "/app/fast"}, {"label": "fast2", "get": "/app/fast2"}]],
  "expect": {"order": ["fast", "fast2", "slow"]}},
 {"repeat": 40, "concurrency": 8, "request": {"get": "/app/r"},
  "expect_all": {"status": 200, "json": {"path": "/__upstream/r"}, "distinct_bodies_max": 1, "requests": {"upstream": 43}}},
 {"mock": {"fault": {"endpoint": "upstream", "kind": "hang"}}},
 {"abort": {"get": "/app/aborted", "after_ms": 100}},
 {"wait_until": {"requests": {"endpoint": "upstream", "count": 44}, "timeout": 5}},
 {"label": "nginx answers slowly", "get": "/app/late?__delay=1.2", "timeout": 5, "expect": {"status": 200, "time_min": 1.1}},
 {"label": "step timeout", "get": "/app/late?__delay=3", "timeout": 0.5, "expect": {"error": "timeout"}},
 {"label": "upstream status passthrough", "get": "/app/s?__status=418", "expect": {"status": 418}},
 {"get": "${mock}/__mock/requests?endpoint=upstream&status=0", "expect": {"json": {"0.path": "/__upstream/aborted", "0.fault": "hang"}}}
]}



=== TEST 18: control API: requests log, secrets, reset keeps apps and run-time redirect URIs
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"mock": {"config": {"redirect_uris": {"pkce": ["http://127.0.0.1:2000/cb"]}, "access_ttl": 60}}},
 {"get": "${mock}/api/permission/oauth2/authorize?response_type=code&client_id=${app.pkce.client_id}&redirect_uri=${urlenc:http://127.0.0.1:2000/cb}&code_challenge=abc",
  "expect": {"status": 302}, "save": {"code": "location_param.code"}},
 {"get": "${mock}/api/permission/oauth2/token", "headers": {"Content-Type": "application/json; charset=utf-8"},
  "body": {"grant_type": "authorization_code", "code": "${code}", "client_id": "${app.pkce.client_id}", "redirect_uri": "http://127.0.0.1:2000/cb", "code_verifier": "abc"},
  "expect": {"status": 200, "json": {"expires_in": {"gt": "${now+55}", "lt": "${now+65}"}}}, "save": {"at": "json.access_token", "rt": "json.refresh_token"}},
 {"get": "${mock}/__mock/requests?endpoint=token",
  "expect": {"json": {"0.method": "POST", "0.path": "/api/permission/oauth2/token", "0.grant_type": "authorization_code", "0.endpoint": "token",
                      "0.json.code_verifier": "abc", "0.headers.content-type": "application/json; charset=utf-8", "0.status": 200, "0.time": {"type": "number"}}}},
 {"get": "${mock}/__mock/secrets",
  "expect": {"json": {"codes": ["${code}"], "access_tokens": ["${at}"], "refresh_tokens": ["${rt}"], "verifiers": ["abc"],
                      "client_secrets": {"len": 2}, "all": {"re": "${at}"}}}},
 {"mock": "reset"},
 {"get": "${mock}/__mock/requests", "expect": {"json": {"0": {"exists": false}}}},
 {"get": "${mock}/__mock/config", "expect": {"json": {"config.access_ttl": 900, "extra_redirect_uris.pkce": {"re": "2000/cb"}}}},
 {"get": "${mock}/__mock/apps", "expect": {"json": {"apps.web.type": "web", "apps.jwt.public_key_ids": {"len": 2}, "apps.jwt.client_id": {"re": "^\\d{13}$"},
                                                     "apps.web.client_id": {"re": "^\\d{32}\\.app\\.coze$"}}}},
 {"get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at}"}, "expect": {"status": 401}},
 {"get": "${mock}/__mock/ping", "expect": {"status": 200}}
]}



=== TEST 19: the browse reply reports failures line by line
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/browse;
        proxy_set_header X-Browse-Base http://127.0.0.1:$server_port;
    }
--- request
POST /t
{"steps": [
 {"get": "${mock}/__mock/ping", "expect": {"status": 302, "json": {"ok": true}}},
 {"get": "${mock}/__mock/ping", "expect": {"stauts": 200}},
 {"get": "${mock}/__mock/ping", "folow": true},
 {"get": "${mock}/__mock/ping?${nosuchvar}"}
]}
--- response_body_like: ^FAIL 4 of 7 checks\nstep 1: status 200, expected 302\nstep 2: unknown expect keys \['stauts'\]\nstep 3: bad step: unknown step keys \['folow'\]\nstep 4: bad step: unknown variable \$\{nosuchvar\}\n\n\{



=== TEST 20: device flow (not used by the module, kept strict)
--- request
POST /t
{"steps": [
 {"mock": "reset"},
 {"set": {"tok": "${mock}/api/permission/oauth2/token", "g": "urn:ietf:params:oauth:grant-type:device_code"}},
 {"get": "${mock}/api/permission/oauth2/device/code", "body": {"client_id": "${app.device.client_id}"},
  "expect": {"status": 200, "json": {"user_code": {"re": "^[A-Z]{3}-[A-Z]{3}-[A-Z]{3}$"}, "expires_in": 300, "interval": 5}},
  "save": {"dc": "json.device_code", "uc": "json.user_code", "vu": "json.verification_uri"}},
 {"get": "${mock}/api/permission/oauth2/device/code", "body": {"client_id": "${app.web.client_id}"}, "expect": {"status": 403, "json": {"error_code": "access_deny"}}},
 {"get": "${tok}", "body": {"grant_type": "${g}", "client_id": "${app.device.client_id}", "device_code": "${dc}"},
  "expect": {"status": 400, "json": {"error_code": "authorization_pending", "error": "authorization_pending"}}},
 {"get": "${vu}?user_code=${uc}", "headers": {"X-Mock-User": "42"}, "expect": {"status": 200}},
 {"get": "${tok}", "body": {"grant_type": "${g}", "client_id": "${app.device.client_id}", "device_code": "${dc}"},
  "expect": {"status": 200, "json": {"refresh_token": {"type": "string"}}}, "save": {"at": "json.access_token"}},
 {"get": "${mock}/v1/users/me", "headers": {"Authorization": "Bearer ${at}"}, "expect": {"json": {"data.user_id": "42", "data.user_name": "mock_user_42"}}},
 {"get": "${tok}", "body": {"grant_type": "${g}", "client_id": "${app.device.client_id}", "device_code": "${dc}"}, "expect": {"status": 400}}
]}
