# Sign in with Coze: the login redirect, the callback, the session cookie
# and the token injected upstream (web and PKCE apps); what an anonymous
# request gets (coze_auth_unauthenticated); the token header; the
# variables; the userinfo and logout endpoints.
#
# Each block POSTs a scenario to /t: the mock's browser driver runs it
# against this nginx and answers "PASS n checks".  Sections of our own:
#   app        web (default) or pkce
#   callback   coze_auth_redirect_uri (default /oauth/callback)
#   http_extra more http-level directives (coze_http's "extra")
#   protected  directives inside the protected "location /"
#   locations  more locations in the server
#   scenario   the browser scenario; a line "LOGIN," is replaced by $Login

use lib 't/lib';
use CozeTest;
use CozeConf;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

# LOGIN: a whole login in jar "main" that ends on the protected page; then
# "tok" holds the access token Coze issued.
my $Login = <<'_EOS_';
 {"label": "login", "get": "/app/login", "follow": true,
  "expect": {"status": 200, "url_re": "/app/login$",
             "jar": {"coze_session": {"present": true}}}},
 {"label": "issued", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 1}}},
  "save": {"tok": "json.access_tokens.0"}},
_EOS_
chomp $Login;

# Coze's OpenAPI behind nginx (design.md job 2): the mock checks the token
my $CozeApi = <<'_EOC_';
    location /coze/ {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $app = $block->app // 'web';
    my $cb = $block->callback // '/oauth/callback';
    chomp($app, $cb);
    $block->set_value("http_config",
                      coze_http($app, callback => $cb,
                                extra => $block->http_extra // ''))
        unless defined $block->http_config;
    $block->set_value("config",
                      coze_server(protected => $block->protected // '')
                      . $CozeApi . ($block->locations // ''))
        unless defined $block->config;
    if (defined $block->scenario) {
        (my $s = $block->scenario) =~ s/^\s*LOGIN,\s*$/$Login/mg;
        $block->set_value("request", "POST /t\n$s");
    }
    scenario_defaults($block, 20);
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



=== TEST 2: web app, step by step: exactly the spec's authorize parameters and token request; the original URL gets Coze's token and the site's own cookies only
--- scenario
{"steps": [
 {"mock": "reset"},
 {"cookie": {"name": "theme", "set": "dark"}},
 {"cookie": {"name": "lang", "set": "en-GB"}},
 {"label": "protected", "get": "/app/page?x=1&y=%2F",
  "expect": {"status": 302, "no_header": ["WWW-Authenticate"],
             "header_re": {"Cache-Control": "no-store"},
             "location_re": "^${mock}/api/permission/oauth2/authorize\\?[^#]*$"},
  "save": {"authz": "location", "state": "location_param.state"}},
 {"label": "authorize", "get": "${authz}",
  "expect": {"status": 302, "location_re": "^${base}/oauth/callback\\?code=code_[A-Za-z0-9]+&state=${state}$"},
  "save": {"cb": "location", "code": "location_param.code"}},
 {"label": "authorize request", "get": "${mock}/__mock/requests?endpoint=authorize", "jar": false,
  "expect": {"json": {"0.method": "GET",
                      "0.args": {"response_type": "code",
                                 "client_id": "${app.web.client_id}",
                                 "redirect_uri": "${base}/oauth/callback",
                                 "state": "${state}"}}}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 302, "location_re": "^${base}/app/page\\?x=1&y=%2F$",
             "set_cookie": {"coze_session": {"present": true, "deleted": false,
                                             "attrs_re": "^ Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax$",
                                             "value_re": "^[A-Za-z0-9_-]+$"},
                            "coze_session_st_${head:12:${state}}": {"deleted": true}},
             "jar": {"coze_session_st_${head:12:${state}}": {"present": false},
                     "theme": {"value_re": "^dark$"}},
             "requests": {"token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "token request", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"0.method": "POST",
                      "0.headers.authorization": "Bearer ${app.web.client_secret}",
                      "0.headers.content-type": {"re": "^application/json"},
                      "0.json": {"grant_type": "authorization_code",
                                 "code": "${code}",
                                 "client_id": "${app.web.client_id}",
                                 "redirect_uri": "${base}/oauth/callback"}}}},
 {"label": "issued", "get": "${mock}/__mock/secrets", "jar": false,
  "expect": {"json": {"access_tokens": {"len": 1}}},
  "save": {"tok": "json.access_tokens.0"}},
 {"label": "back at the page", "get": "/app/page?x=1&y=%2F",
  "expect": {"status": 200,
             "json": {"path": "/__upstream/app/page?x=1&y=%2F",
                      "headers.authorization": "Bearer ${tok}",
                      "headers.cookie": "theme=dark; lang=en-GB",
                      "headers.x-coze-result": "ok"},
             "no_header": ["Set-Cookie"]}},
 {"label": "Coze's API accepts the token nginx injected", "get": "/coze/v3/chat?x=1",
  "method": "POST", "body": {"bot_id": "1"},
  "expect": {"status": 200,
             "json": {"code": 0, "data.token_kind": "czu",
                      "data.user_id": "7380000000000000001",
                      "data.headers.authorization": "Bearer ${tok}",
                      "data.headers.cookie": "theme=dark; lang=en-GB"}}}
]}



=== TEST 3: PKCE app: S256 challenge of a fresh verifier, no secret anywhere; Coze checks the verifier
--- app: pkce
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "protected", "get": "/pk/page?a=b",
  "expect": {"status": 302,
             "location_re": "^${mock}/api/permission/oauth2/authorize\\?",
             "location_params": {"response_type": "^code$",
                                 "client_id": "^${app.pkce.client_id}$",
                                 "redirect_uri": "^${base}/oauth/callback$",
                                 "state": "^[A-Za-z0-9_-]{32}$",
                                 "code_challenge": "^[A-Za-z0-9_-]{43}$",
                                 "code_challenge_method": "^S256$"}},
  "save": {"authz": "location", "state": "location_param.state",
           "challenge": "location_param.code_challenge"}},
 {"label": "authorize", "get": "${authz}", "expect": {"status": 302},
  "save": {"cb": "location", "code": "location_param.code"}},
 {"label": "exactly these authorize parameters",
  "get": "${mock}/__mock/requests?endpoint=authorize", "jar": false,
  "expect": {"json": {"0.args": {"response_type": "code",
                                 "client_id": "${app.pkce.client_id}",
                                 "redirect_uri": "${base}/oauth/callback",
                                 "state": "${state}",
                                 "code_challenge": "${challenge}",
                                 "code_challenge_method": "S256"}}}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 302, "location_re": "^${base}/pk/page\\?a=b$",
             "set_cookie": {"coze_session": {"present": true, "deleted": false},
                            "coze_session_st_${head:12:${state}}": {"deleted": true}},
             "requests": {"token": 1, "token:authorization_code:200": 1, "users_me": 1}}},
 {"label": "token request", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"0.headers.authorization": {"exists": false},
                      "0.json.code_verifier": {"re": "^[A-Za-z0-9._~-]{43,128}$"}}},
  "save": {"verifier": "json.0.json.code_verifier"}},
 {"label": "exactly the spec's body", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"0.json": {"grant_type": "authorization_code", "code": "${code}",
                                 "client_id": "${app.pkce.client_id}",
                                 "redirect_uri": "${base}/oauth/callback",
                                 "code_verifier": "${verifier}"}}}},
 {"label": "the challenge is the verifier's S256",
  "get": "${mock}/__mock/requests?endpoint=authorize", "jar": false,
  "expect": {"json": {"0.args.code_challenge": "${s256:${verifier}}"}}},
 {"label": "back at the page", "get": "/pk/page?a=b",
  "expect": {"status": 200,
             "json": {"headers.authorization": {"re": "^Bearer czu_[A-Za-z0-9]{64}$"},
                      "headers.cookie": {"exists": false},
                      "headers.x-coze-user": "7380000000000000001"}}},
 {"label": "another browser gets another verifier", "get": "/pk/other", "jar": "other",
  "expect": {"status": 302}, "save": {"authz2": "location"}},
 {"label": "a new challenge", "get": "${mock}/__mock/requests?endpoint=authorize", "jar": false,
  "expect": {"json": {"1": {"exists": false}}}},
 {"get": "${authz2}", "jar": "other", "follow": true,
  "expect": {"status": 200, "url_re": "/pk/other$"}},
 {"label": "a new verifier", "get": "${mock}/__mock/requests?endpoint=token", "jar": false,
  "expect": {"json": {"1.json.code_verifier": {"ne": "${verifier}", "re": "^[A-Za-z0-9._~-]{43,128}$"}}}}
]}



=== TEST 4: two tabs log in at the same time: two state cookies in one browser, both come back signed in
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "tab 1 opens", "get": "/tab/one", "expect": {"status": 302},
  "save": {"a1": "location", "s1": "location_param.state"}},
 {"label": "tab 2 opens", "get": "/tab/two?q=2", "expect": {"status": 302},
  "save": {"a2": "location", "s2": "location_param.state"}},
 {"label": "two logins pending", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"jar": {"coze_session_st_${head:12:${s1}}": {"present": true},
                     "coze_session_st_${head:12:${s2}}": {"present": true},
                     "coze_session": {"present": false}}}},
 {"parallel": [
   [{"label": "tab 1 returns", "get": "${a1}", "follow": true,
     "expect": {"status": 200, "url_re": "^${base}/tab/one$",
                "json": {"path": "/__upstream/tab/one",
                         "headers.authorization": {"re": "^Bearer czu_"},
                         "headers.cookie": {"exists": false}}}}],
   [{"label": "tab 2 returns", "get": "${a2}", "follow": true,
     "expect": {"status": 200, "url_re": "^${base}/tab/two\\?q=2$",
                "json": {"path": "/__upstream/tab/two?q=2",
                         "headers.authorization": {"re": "^Bearer czu_"},
                         "headers.cookie": {"exists": false}}}}]
 ]},
 {"label": "both logins are over", "get": "/tab/three",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "jar": {"coze_session_st_${head:12:${s1}}": {"present": false},
                     "coze_session_st_${head:12:${s2}}": {"present": false}},
             "requests": {"authorize": 2, "token:authorization_code:200": {"min": 1, "max": 2}}}}
]}



=== TEST 5: coze_auth_workspace_id: the workspace-scoped authorize path
--- http_extra
    coze_auth_workspace_id 7350000000000000123;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "protected", "get": "/ws",
  "expect": {"status": 302,
             "location_re": "^${mock}/api/permission/oauth2/workspace_id/7350000000000000123/authorize\\?",
             "location_params": {"response_type": "^code$", "client_id": "^${app.web.client_id}$",
                                 "redirect_uri": "^${base}/oauth/callback$",
                                 "state": "^[A-Za-z0-9_-]{32}$"}}},
 {"label": "login", "get": "${last.location}", "follow": true,
  "expect": {"status": 200, "url_re": "^${base}/ws$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}},
             "requests": {"authorize": 1, "token:authorization_code:200": 1}}},
 {"label": "Coze saw the workspace path", "get": "${mock}/__mock/requests?endpoint=authorize",
  "jar": false,
  "expect": {"json": {"0.path": "/api/permission/oauth2/workspace_id/7350000000000000123/authorize"}}}
]}



=== TEST 6: an absolute coze_auth_redirect_uri is used as it is, whatever Host the browser used
--- callback: http://127.0.0.1:$TEST_NGINX_SERVER_PORT/oauth/callback
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "protected, other Host", "get": "/abs/page", "headers": {"Host": "www.example.com"},
  "expect": {"status": 302,
             "location_params": {"redirect_uri": "^${base}/oauth/callback$"}},
  "save": {"authz": "location"}},
 {"label": "API request, other Host", "get": "/abs/api", "headers": {"Host": "www.example.com",
                                                                    "Accept": "application/json"},
  "expect": {"status": 401, "json": {"login_url": "${base}/oauth/callback?return_to=%2F"}}},
 {"label": "login", "get": "${authz}", "follow": true,
  "expect": {"status": 200, "url_re": "^${base}/abs/page$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}},
 {"label": "Coze got the same redirect_uri", "get": "${mock}/__mock/requests?endpoint=token",
  "jar": false,
  "expect": {"json": {"0.json.redirect_uri": "${base}/oauth/callback", "0.status": 200}}}
]}



=== TEST 7: a callback while a valid session exists just redirects: no second code exchange
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "start another login", "get": "/oauth/callback?return_to=%2Fsecond%3Fn%3D2",
  "expect": {"status": 302, "location_re": "/authorize\\?"},
  "save": {"authz": "location", "state": "location_param.state"}},
 {"label": "Coze", "get": "${authz}", "expect": {"status": 302},
  "save": {"cb": "location"}},
 {"label": "callback with a session", "get": "${cb}",
  "expect": {"status": 302, "location_re": "^${base}/second\\?n=2$",
             "set_cookie": {"coze_session": {"present": false},
                            "coze_session_st_${head:12:${state}}": {"deleted": true}},
             "requests": {"token": 1, "users_me": 1}}},
 {"label": "the same callback again", "get": "${cb}",
  "expect": {"status": 302, "location_re": "^${base}/$",
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token": 1}}},
 {"label": "still the first session", "get": "/second?n=2",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${tok}"}}}
]}



=== TEST 8: auto: XHR/fetch/API requests get 401 JSON with the login URL and no login state; navigations are redirected
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "fetch()", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"},
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"],
             "header_re": {"WWW-Authenticate": "^Bearer realm=\"coze\"$",
                           "Content-Type": "^application/json"},
             "json": {"error": "unauthenticated", "message": {"type": "string"},
                      "login_url": "/oauth/callback?return_to=%2F"}}},
 {"label": "fetch() in navigate-less mode with text/html", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "same-origin"},
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"]}},
 {"label": "XMLHttpRequest", "get": "/api/items", "headers": {"X-Requested-With": "XMLHttpRequest"},
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"],
             "header_re": {"WWW-Authenticate": "^Bearer realm=\"coze\"$"},
             "json": {"error": "unauthenticated"}}},
 {"label": "Accept: application/json", "get": "/api/items", "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"],
             "json": {"error": "unauthenticated"}}},
 {"label": "POST", "get": "/api/items", "body": "{\"a\":1}",
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"],
             "json": {"error": "unauthenticated"}}},
 {"label": "image", "get": "/img.png", "headers": {"Sec-Fetch-Dest": "image"},
  "expect": {"status": 401, "no_header": ["Set-Cookie"]}},
 {"label": "no login started", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"authorize": 0, "token": 0}}},
 {"label": "browser navigation", "get": "/page",
  "headers": {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none"},
  "expect": {"status": 302, "location_re": "^${mock}/api/permission/oauth2/authorize\\?",
             "header_re": {"Set-Cookie": "^coze_session_st_"}, "no_header": ["WWW-Authenticate"]}},
 {"label": "iframe navigation", "get": "/frame",
  "headers": {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
  "expect": {"status": 302, "location_re": "/authorize\\?"}},
 {"label": "no Accept header at all", "get": "/plain", "headers": {"Accept": null},
  "expect": {"status": 302, "location_re": "/authorize\\?"}}
]}



=== TEST 9: the 401's login_url brings the user back to the page that made the call
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "fetch() from a page", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "cors", "Referer": "${base}/dash/board?tab=2"},
  "expect": {"status": 401,
             "json": {"login_url": "/oauth/callback?return_to=%2Fdash%2Fboard%3Ftab%3D2"}},
  "save": {"login": "json.login_url"}},
 {"label": "fetch() from another site's page", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "cors", "Referer": "http://evil.example/dash/board"},
  "expect": {"status": 401, "json": {"login_url": "/oauth/callback?return_to=%2F"}}},
 {"label": "fetch() from a page with an unsafe path", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "cors", "Referer": "${base}//evil.example/x"},
  "expect": {"status": 401, "json": {"login_url": "/oauth/callback?return_to=%2F"}}},
 {"label": "the page follows login_url", "get": "${login}", "follow": true,
  "expect": {"status": 200, "url_re": "^${base}/dash/board\\?tab=2$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}},
 {"label": "the call works now", "get": "/api/items",
  "headers": {"Sec-Fetch-Mode": "cors", "Accept": "application/json"},
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}



=== TEST 10: pass: anonymous requests reach the upstream with empty variables, no token and no module cookie
--- protected
        coze_auth_unauthenticated pass;
        proxy_set_header X-Coze-Token-Var $coze_access_token;
        proxy_set_header X-Coze-Name "[$coze_user_name]";
--- scenario
{"steps": [
 {"mock": "reset"},
 {"cookie": {"name": "theme", "set": "dark"}},
 {"label": "navigation", "get": "/free/page",
  "expect": {"status": 200, "no_header": ["Set-Cookie"],
             "json": {"path": "/__upstream/free/page",
                      "headers.authorization": {"exists": false},
                      "headers.x-coze-user": {"exists": false},
                      "headers.x-coze-token-var": {"exists": false},
                      "headers.x-coze-name": "[]",
                      "headers.x-coze-result": "anonymous",
                      "headers.cookie": "theme=dark"}}},
 {"label": "XHR with its own Authorization", "get": "/free/api",
  "headers": {"X-Requested-With": "XMLHttpRequest", "Authorization": "Basic dXNlcjpwYXNz"},
  "expect": {"status": 200, "no_header": ["Set-Cookie", "WWW-Authenticate"],
             "json": {"headers.authorization": "Basic dXNlcjpwYXNz",
                      "headers.x-coze-result": "anonymous"}}},
 {"label": "a broken session cookie is no session", "get": "/free/page",
  "headers": {"Cookie": "theme=dark; coze_session=AAAAbroken; coze_session_st_AAAAAAAAAAAA=x"},
  "expect": {"status": 200,
             "json": {"headers.authorization": {"exists": false},
                      "headers.x-coze-result": "invalid",
                      "headers.cookie": "theme=dark"}}},
 {"label": "no login started", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"authorize": 0}}},
 {"label": "sign in at the callback", "get": "/oauth/callback?return_to=%2Ffree%2Fpage", "follow": true,
  "expect": {"status": 200, "url_re": "^${base}/free/page$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"},
                      "headers.x-coze-token-var": {"re": "^czu_"},
                      "headers.x-coze-user": "7380000000000000001",
                      "headers.x-coze-name": "[alice_test]",
                      "headers.x-coze-result": "ok",
                      "headers.cookie": "theme=dark"}}}
]}



=== TEST 11: redirect: even an XHR or a POST is sent to Coze
--- protected
        coze_auth_unauthenticated redirect;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "XHR", "get": "/r/api", "headers": {"X-Requested-With": "XMLHttpRequest",
                                               "Accept": "application/json"},
  "expect": {"status": 302, "location_re": "^${mock}/api/permission/oauth2/authorize\\?",
             "header_re": {"Set-Cookie": "^coze_session_st_"},
             "no_header": ["WWW-Authenticate"]}},
 {"label": "POST", "get": "/r/form", "body": "a=1",
  "headers": {"Content-Type": "application/x-www-form-urlencoded"},
  "expect": {"status": 302, "location_re": "/authorize\\?"}},
 {"label": "the XHR's login comes back", "get": "/r/api", "follow": true,
  "headers": {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"},
  "expect": {"status": 200, "url_re": "^${base}/r/api$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}}
]}



=== TEST 12: 401: even a browser navigation gets the 401 JSON
--- protected
        coze_auth_unauthenticated 401;
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "navigation", "get": "/n/page",
  "headers": {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
  "expect": {"status": 401, "no_header": ["Set-Cookie", "Location"],
             "header_re": {"WWW-Authenticate": "^Bearer realm=\"coze\"$"},
             "json": {"error": "unauthenticated",
                      "login_url": "/oauth/callback?return_to=%2F"}}},
 {"label": "the login URL works", "get": "${last.json.login_url}", "follow": true,
  "expect": {"status": 200, "url_re": "^${base}/$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}}
]}



=== TEST 13: the client's Authorization is replaced, never appended
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "one forged header", "get": "/h", "headers": {"Authorization": "Bearer czu_forged"},
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${tok}"}}},
 {"label": "Coze's API gets exactly one (it refuses two)", "get": "/coze/v1/bots",
  "headers": {"AUTHORIZATION": "Bearer pat_kOdU5hazAp91mACXdsOKOucu8SMAuppfi5FnolCHoDFv3HmYE17vQExdUK8V2nAZ"},
  "expect": {"status": 200, "json": {"code": 0, "data.token_kind": "czu",
                                     "data.headers.authorization": "Bearer ${tok}"}}},
 {"label": "two client headers: nginx itself refuses them", "get": "/h",
  "headers": [["Authorization", "Bearer czu_forged"], ["authorization", "Basic Zm9vOmJhcg=="]],
  "expect": {"status": 400, "body_not_re": "czu_"}},
 {"label": "upstream never saw them", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"upstream": 2}}}
]}



=== TEST 14: coze_auth_token_header X-Coze-Token: the token goes there; the client's Authorization is left alone
--- protected
        coze_auth_token_header X-Coze-Token;
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "custom header", "get": "/h",
  "headers": [["Authorization", "Basic dXNlcjpwYXNz"], ["X-Coze-Token", "forged"],
              ["x-coze-token", "forged too"]],
  "expect": {"status": 200,
             "json": {"headers.x-coze-token": "Bearer ${tok}",
                      "headers.authorization": "Basic dXNlcjpwYXNz",
                      "headers.cookie": {"exists": false}}}}
]}



=== TEST 15: coze_auth_token_header off: no header, the token is in $coze_access_token only
--- protected
        coze_auth_token_header off;
        proxy_set_header X-My-Token "Token $coze_access_token";
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "no header", "get": "/h",
  "expect": {"status": 200,
             "json": {"headers.authorization": {"exists": false},
                      "headers.x-my-token": "Token ${tok}",
                      "headers.x-coze-result": "ok"}}}
]}



=== TEST 16: coze_auth_strip_cookie off keeps the module's cookies; on (the default) removes the session and every state cookie
--- protected
        coze_auth_strip_cookie off;
--- locations
    location /stripped/ {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
--- scenario
{"steps": [
 {"mock": "reset"},
 {"cookie": {"name": "theme", "set": "dark"}},
 LOGIN,
 {"label": "another login pending", "get": "/oauth/callback?return_to=%2Fx",
  "expect": {"status": 302}, "save": {"state": "location_param.state"}},
 {"label": "kept", "get": "/kept",
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${tok}",
                      "headers.cookie": {"re": "(^|; )coze_session=${cookie.main.coze_session}(;|$)"}}}},
 {"label": "kept (state)", "get": "/kept",
  "expect": {"status": 200,
             "json": {"headers.cookie": {"re": "(^|; )coze_session_st_${head:12:${state}}=[A-Za-z0-9_-]+(;|$)"}}}},
 {"label": "stripped", "get": "/stripped/x",
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${tok}",
                      "headers.cookie": "theme=dark"}}},
 {"label": "stripped, cookies in several headers", "get": "/stripped/y",
  "headers": [["Cookie", "coze_session=${cookie.main.coze_session}"],
              ["Cookie", "a=1; coze_session_st_${head:12:${state}}=${cookie.main.coze_session_st_${head:12:${state}}}; b=2"],
              ["Cookie", "coze_session_st_AAAAAAAAAAAA=x"]],
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${tok}",
                      "headers.cookie": "a=1; b=2"}}},
 {"label": "stripped, ';' without spaces: the rest comes back whole (longer than it was)",
  "get": "/stripped/z",
  "headers": [["Cookie", "coze_session=${cookie.main.coze_session}"],
              ["Cookie", "coze_session_st_AAAAAAAAAAAA=;k1=1;k2=2;k3=3;k4=4;k5=5;k6=6;k7=7;k8=8;k9=9;k10=10;k11=11;k12=12;k13=13;k14=14;k15=15;k16=16;k17=17;k18=18;k19=19;k20=20;k21=21;k22=22;k23=23;k24=24;k25=25;k26=26;k27=27;k28=28;k29=29;k30=30;k31=31;k32=32;k33=33;k34=34;k35=35;k36=36;k37=37;k38=38;k39=39;k40=40;k41=41;k42=42;k43=43;k44=44;k45=45;k46=46;k47=47;k48=48;k49=49;k50=50;k51=51;k52=52;k53=53;k54=54;k55=55;k56=56;k57=57;k58=58;k59=59;k60=60"]],
  "expect": {"status": 200,
             "json": {"headers.authorization": "Bearer ${tok}",
                      "headers.cookie": "k1=1; k2=2; k3=3; k4=4; k5=5; k6=6; k7=7; k8=8; k9=9; k10=10; k11=11; k12=12; k13=13; k14=14; k15=15; k16=16; k17=17; k18=18; k19=19; k20=20; k21=21; k22=22; k23=23; k24=24; k25=25; k26=26; k27=27; k28=28; k29=29; k30=30; k31=31; k32=32; k33=33; k34=34; k35=35; k36=36; k37=37; k38=38; k39=39; k40=40; k41=41; k42=42; k43=43; k44=44; k45=45; k46=46; k47=47; k48=48; k49=49; k50=50; k51=51; k52=52; k53=53; k54=54; k55=55; k56=56; k57=57; k58=58; k59=59; k60=60"}}}
]}



=== TEST 17: the variables in map, if, proxy_set_header, add_header and log_format
--- http_extra
    map $coze_nick_name $coze_greeting {
        default  "hello, $coze_nick_name";
        ""       "hello, stranger";
    }
    log_format coze_test '$coze_user_id|$coze_user_name|$coze_nick_name|$coze_avatar_url|$coze_auth_result|$coze_token_expires|$request';
--- protected
        coze_auth_unauthenticated pass;
        access_log logs/coze_vars.log coze_test;
        proxy_set_header X-Greeting $coze_greeting;
        proxy_set_header X-Expires $coze_token_expires;
        proxy_set_header X-Avatar $coze_avatar_url;
        add_header X-Coze-Nick "[$coze_nick_name]" always;
--- locations
    location = /whoami {
        coze_auth on;
        coze_auth_unauthenticated pass;
        if ($coze_auth_result = ok) {
            return 200 "member $coze_user_name\n";
        }
        return 200 "guest ($coze_auth_result)\n";
    }

    location = /__log {
        default_type text/plain;
        alias logs/coze_vars.log;
    }
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "anonymous", "get": "/vars/anon",
  "expect": {"status": 200,
             "header_re": {"X-Coze-Nick": "^\\[\\]$"},
             "json": {"headers.x-greeting": "hello, stranger",
                      "headers.x-expires": {"exists": false}}}},
 {"label": "if, anonymous", "get": "/whoami", "expect": {"status": 200, "body": "guest (anonymous)\n"}},
 {"label": "if, broken cookie", "get": "/whoami", "headers": {"Cookie": "coze_session=Zm9v"},
  "expect": {"status": 200, "body": "guest (invalid)\n"}},
 {"label": "sign in", "get": "/oauth/callback?return_to=%2Fvars%2Fpage", "follow": true,
  "expect": {"status": 200, "url_re": "/vars/page$",
             "header_re": {"X-Coze-Nick": "^\\[Alice\\]$"},
             "json": {"headers.x-greeting": "hello, Alice",
                      "headers.x-avatar": "https://p.coze.test/avatar/alice.png",
                      "headers.x-expires": {"re": "^[0-9]{10}$"}}},
  "save": {"exp": "json.headers.x-expires"}},
 {"label": "if, signed in", "get": "/whoami", "expect": {"status": 200, "body": "member alice_test\n"}},
 {"label": "the access log", "get": "/__log",
  "expect": {"status": 200,
             "body_re": "(?m)^-\\|-\\|-\\|-\\|anonymous\\|-\\|GET /vars/anon HTTP/1\\.1\n.*^7380000000000000001\\|alice_test\\|Alice\\|https://p\\.coze\\.test/avatar/alice\\.png\\|ok\\|${exp}\\|GET /vars/page HTTP/1\\.1$",
             "body_not_re": "czu_|code_"}}
]}



=== TEST 18: userinfo (curl) shows the user from Coze's /v1/users/me; no tokens by default
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "bob signs in", "get": "/bob", "follow": true,
  "headers": {"X-Mock-User": "7380000000000000002"},
  "expect": {"status": 200, "json": {"headers.x-coze-user": "7380000000000000002"}}},
 {"label": "issued", "get": "${mock}/__mock/secrets", "jar": false,
  "save": {"tok": "json.access_tokens.0"}},
 {"label": "what Coze says", "get": "${mock}/v1/users/me", "jar": false,
  "headers": {"Authorization": "Bearer ${tok}"},
  "expect": {"status": 200, "json": {"data.user_id": "7380000000000000002"}},
  "save": {"uname": "json.data.user_name", "nick": "json.data.nick_name",
           "avatar": "json.data.avatar_url"}},
 {"label": "curl /oauth/me", "get": "/oauth/me",
  "headers": {"User-Agent": "curl/7.88.1", "Accept": "*/*"},
  "expect": {"status": 200,
             "header_re": {"Content-Type": "^application/json", "Cache-Control": "no-store"},
             "json": {"authenticated": true, "user_id": "7380000000000000002",
                      "user_name": "${uname}", "nick_name": "${nick}",
                      "avatar_url": "${avatar}",
                      "expires_at": {"gt": "${now+800}", "lt": "${now+1000}"},
                      "session_expires_at": {"gt": "${now+2591000}", "lt": "${now+2593000}"},
                      "access_token": {"exists": false},
                      "refresh_token": {"exists": false}},
             "body_not_re": "czu_|${tok}"}},
 {"label": "curl without a session", "get": "/oauth/me", "jar": false,
  "headers": {"User-Agent": "curl/7.88.1", "Accept": "*/*"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"}, "no_header": ["Set-Cookie"]}}
]}



=== TEST 19: userinfo with coze_auth_userinfo_tokens on adds the tokens
--- http_extra
    coze_auth_userinfo_tokens on;
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "refresh token", "get": "${mock}/__mock/secrets", "jar": false,
  "save": {"rt": "json.refresh_tokens.0"}},
 {"label": "me", "get": "/oauth/me", "headers": {"Accept": "application/json"},
  "expect": {"status": 200,
             "json": {"authenticated": true, "user_id": "7380000000000000001",
                      "access_token": "${tok}", "refresh_token": "${rt}"}}}
]}



=== TEST 20: logout deletes the session cookie and redirects to a validated target
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "a link on another site does not log out", "get": "/oauth/logout?return_to=%2Fbye",
  "headers": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
  "expect": {"status": 200, "no_header": ["Set-Cookie", "Location"],
             "body_re": "<form method=\"post\">"}},
 {"label": "still signed in", "get": "/app/page",
  "expect": {"status": 200, "json": {"headers.authorization": "Bearer ${tok}"}}},
 {"label": "logout", "get": "/oauth/logout?return_to=%2Fbye%3Fsee%3Dyou",
  "expect": {"status": 302, "location_re": "^${base}/bye\\?see=you$",
             "set_cookie": {"coze_session": {"deleted": true,
                                             "attrs_re": "^ Max-Age=0; Path=/; HttpOnly; SameSite=Lax$"}},
             "jar": {"coze_session": {"present": false}}}},
 {"label": "signed out", "get": "/app/page",
  "expect": {"status": 302, "location_re": "/authorize\\?"}},
 {"label": "unsafe target", "get": "/oauth/logout?return_to=%2F%2Fevil.example%2F",
  "expect": {"status": 302, "location_re": "^${base}/$",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "absolute target", "get": "/oauth/logout?return_to=https%3A%2F%2Fevil.example%2F",
  "expect": {"status": 302, "location_re": "^${base}/$"}},
 {"label": "no target", "get": "/oauth/logout",
  "expect": {"status": 302, "location_re": "^${base}/$"}},
 {"label": "POST", "get": "/oauth/logout", "body": "",
  "expect": {"status": 302, "location_re": "^${base}/$",
             "set_cookie": {"coze_session": {"deleted": true}}}}
]}



=== TEST 21: the user refuses at Coze: a friendly 403 page, no session, the login can be retried
--- scenario
{"steps": [
 {"mock": {"reset": true, "config": {"consent": "deny"}}},
 {"label": "denied", "get": "/d/page", "follow": true,
  "expect": {"status": 403, "url_re": "/oauth/callback\\?error=access_denied",
             "header_re": {"Content-Type": "^text/html", "Cache-Control": "no-store"},
             "body_re": "Sign-in with Coze failed.*access_denied",
             "jar": {"coze_session": {"present": false}},
             "requests": {"token": 0}}},
 {"mock": {"config": {"consent": "approve"}}},
 {"label": "retry", "get": "/d/page", "follow": true,
  "expect": {"status": 200, "url_re": "/d/page$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}}
]}
