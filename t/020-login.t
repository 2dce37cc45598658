# Sign in with Coze: the login redirect, the callback, the session cookie
# and the token injected upstream (web and PKCE apps).

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", coze_http('web'))
        unless defined $block->http_config;
    $block->set_value("config", coze_server())
        unless defined $block->config;
    $block->set_value("request", "POST /t\n" . $block->scenario)
        if defined $block->scenario;
    $block->set_value("response_body_like", "^PASS \\d+ checks\n")
        unless defined $block->response_body_like;
    $block->set_value("error_code", 200) unless defined $block->error_code;
    $block->set_value("timeout", 20) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n[emerg]\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: web app: protected URL, Coze, callback, back to the URL with a session
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "protected", "get": "/app/page?x=1",
  "expect": {"status": 302,
             "location_re": "^http://127\\.0\\.0\\.1:\\d+/api/permission/oauth2/authorize\\?",
             "location_params": {"response_type": "^code$",
                                 "client_id": "^${app.web.client_id}$",
                                 "redirect_uri": "^http://127\\.0\\.0\\.1:\\d+/oauth/callback$",
                                 "state": "^[A-Za-z0-9_-]{32}$"},
             "location_lacks_params": ["code_challenge", "code_challenge_method", "client_secret", "scope"],
             "header_re": {"Set-Cookie": "^coze_session_st_[A-Za-z0-9_-]{12}=[A-Za-z0-9_-]+; Max-Age=600; Path=/; HttpOnly; SameSite=Lax$"}}},
 {"label": "login", "get": "/app/page?x=1", "follow": true,
  "expect": {"status": 200, "url_re": "/app/page\\?x=1$",
             "json": {"path": "/__upstream/app/page?x=1",
                      "headers.authorization": {"re": "^Bearer czu_[A-Za-z0-9]{64}$"},
                      "headers.x-coze-user": "7380000000000000001",
                      "headers.cookie": {"exists": false}},
             "jar": {"coze_session": {"present": true}},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "again", "get": "/other",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "requests": {"token": 1}}}
]}
--- error_log
coze auth: user "7380000000000000001" signed in
