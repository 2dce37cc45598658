# Static tokens (issue 6): "coze_auth_client_type token" with
# coze_auth_token_file injects a personal (pat_) or service (sat_) access
# token upstream, with no browser login and no call to Coze.  The mock's
# OpenAPI echo (/v3/...) accepts the registered PAT/SAT and says which
# kind of token it saw.

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();
log_level('warn');

sub token_http {
    my ($file) = @_;
    return <<"_EOC_";
    coze_auth_client_type  token;
    coze_auth_token_file   $file;
    coze_auth_api_base     http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;
    coze_auth_session_key  \$TEST_NGINX_DATA_DIR/session.key;
_EOC_
}

# /app/: the upstream echo; /coze/: the mock's OpenAPI (checks the token)
my $Server = CozeConf::coze_browse_location() . <<'_EOC_';
    location /app/ {
        coze_auth on;
        proxy_set_header X-Token $coze_access_token;
        proxy_set_header X-Coze-Result $coze_auth_result;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/app/;
    }

    location /coze/ {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", coze_http('token'))
        unless defined $block->http_config;
    $block->set_value("config", $Server) unless defined $block->config;
    $block->set_value("request", "POST /t\n" . $block->scenario)
        if defined $block->scenario;
    if (!defined $block->must_die) {
        $block->set_value("response_body_like", "^PASS \\d+ checks\n")
            unless defined $block->response_body_like;
        $block->set_value("error_code", 200)
            unless defined $block->error_code;
    }
    $block->set_value("timeout", 20) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n[error]\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: the PAT goes upstream, with no login and no call to Coze
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "no cookie at all", "get": "/app/page?x=1", "jar": false,
  "expect": {"status": 200,
             "json": {"path": "/__upstream/app/page?x=1",
                      "headers.authorization": "Bearer ${pat}",
                      "headers.x-token": "${pat}",
                      "headers.x-coze-result": "ok"},
             "no_header": ["Set-Cookie"],
             "requests": {"token": 0, "authorize": 0, "users_me": 0}}}
]}



=== TEST 2: a client-sent Authorization is replaced, never passed on or appended
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "forged bearer", "get": "/app/page", "jar": false,
  "headers": {"Authorization": "Bearer pat_forged"},
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${pat}",
                      "header_list": {"not_re": "forged"}}}},
 {"label": "Basic credentials", "get": "/app/page", "jar": false,
  "headers": {"authorization": "Basic Zm9vOmJhcg=="},
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${pat}",
                      "header_list": {"not_re": "Basic"}}}}
]}



=== TEST 3: proxied to the OpenAPI, the PAT authenticates
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/coze/v3/chat?bot_id=1", "jar": false,
  "headers": {"Authorization": "Bearer pat_forged"},
  "body": {"stream": false, "q": "hi"},
  "expect": {"status": 200,
             "json": {"code": 0, "data.token_kind": "pat",
                      "data.user_id": "7380000000000000001",
                      "data.path": "/v3/chat", "data.json.q": "hi",
                      "data.headers.authorization": "Bearer ${pat}"},
             "requests": {"openapi": 1, "token": 0}}}
]}



=== TEST 4: a service access token (sat_) works the same way
--- http_config eval
main::token_http('$TEST_NGINX_DATA_DIR/sat_token.txt')
--- scenario
{"steps": [
 {"mock": "reset"},
 {"get": "/coze/v1/workspaces", "jar": false,
  "expect": {"status": 200,
             "json": {"data.token_kind": "sat", "data.app": "jwt",
                      "data.headers.authorization": "Bearer ${sat}"}}},
 {"get": "/app/page", "jar": false,
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${sat}"}}}
]}



=== TEST 5: a token Coze no longer accepts: the OpenAPI's 401 reaches the client, nginx keeps serving
--- scenario
{"steps": [
 {"mock": {"reset": true, "expire": {"token": "${pat}"}}},
 {"get": "/coze/v3/chat", "jar": false,
  "expect": {"status": 401, "json": {"code": 4100}}},
 {"get": "/app/page", "jar": false,
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${pat}"}}}
]}



=== TEST 6: a token file holding two lines: nginx -t fails
--- user_files
>>> two_tokens.txt
pat_kOdU5hazAp91mACXdsOKOucu8SMAuppfi5FnolCHoDFv3HmYE17vQExdUK8V2nAZ
sat_qfHeqWGquDdqpcyLxA3JCdGsK1NBKG2FD5S0Us6rIii6EqSlkJ9mK60K0IvKXjrC
--- http_config eval
main::token_http('../html/two_tokens.txt')
--- must_die
--- error_log eval
qr/"coze_auth_token_file".*single token/



=== TEST 7: an empty token file: nginx -t fails
--- user_files
>>> empty.txt

--- http_config eval
main::token_http('../html/empty.txt')
--- must_die
--- error_log eval
qr/"coze_auth_token_file".*empty/
