# The session and login state cookies under attack: tampered, truncated,
# sealed with another key, expired, idle; replayed, foreign, missing or
# bogus states.  Each ends as "no session" or a 4xx page, never a 5xx.
# Also key rotation, the cookie attributes (HttpOnly, SameSite, Secure on
# https) and the bound on concurrent logins per browser.
#
# Sections of our own (see t/020-login.t): http_extra, servers (more
# server blocks), config_extra (more directives in the main server),
# scenario.  In a scenario, @PORT2@ and @PORT3@ are two more free ports
# (TEST_NGINX_COZE_PORT2/3 in the configuration) and "LOGIN," a login in
# jar "main" that ends on /app/login.

use lib 't/lib';
use CozeTest;
use CozeConf;
use IO::Socket::INET ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

sub free_port {
    my %not = map { $_ => 1 } @_;
    for (1 .. 20) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Listen => 1, Proto => 'tcp')
            or die "cannot find a free port: $!\n";
        my $p = $s->sockport;
        close $s;
        return $p unless $not{$p};
    }
    die "cannot find a free port\n";
}

$ENV{TEST_NGINX_COZE_PORT2} ||= free_port($ENV{TEST_NGINX_SERVER_PORT} // 1984);
$ENV{TEST_NGINX_COZE_PORT3} ||= free_port($ENV{TEST_NGINX_SERVER_PORT} // 1984,
                                          $ENV{TEST_NGINX_COZE_PORT2});

my $Login = <<'_EOS_';
 {"label": "login", "get": "/app/login", "follow": true,
  "expect": {"status": 200, "url_re": "/app/login$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}},
             "jar": {"coze_session": {"present": true}}}},
_EOS_
chomp $Login;

# a server that seals with another key (t/data/session2.key) on PORT2
our $OtherKeyServer = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_COZE_PORT2;
        server_name other_key;
        coze_auth_session_key $TEST_NGINX_DATA_DIR/session2.key;

        location = /oauth/callback {
            coze_auth_callback;
        }

        location / {
            coze_auth on;
            proxy_set_header X-Coze-Result $coze_auth_result;
            proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config",
                      coze_http('web', extra => ($block->http_extra // '')
                                               . ($block->servers // '')))
        unless defined $block->http_config;
    $block->set_value("config",
                      ($block->config_extra // '') . coze_server())
        unless defined $block->config;
    if (defined $block->scenario) {
        (my $s = $block->scenario) =~ s/^\s*LOGIN,\s*$/$Login/mg;
        $s =~ s/\@PORT2\@/$ENV{TEST_NGINX_COZE_PORT2}/g;
        $s =~ s/\@PORT3\@/$ENV{TEST_NGINX_COZE_PORT3}/g;
        $block->set_value("request", "POST /t\n$s");
    }
    scenario_defaults($block, 20);
});

run_tests();

__DATA__

=== TEST 1: a session cookie with a flipped bit is no session: login again (navigation), 401 (API), the cookie is deleted
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"cookie": {"jar": "t1", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "t1", "name": "coze_session", "op": "flipbit", "pos": 0}},
 {"cookie": {"jar": "t2", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "t2", "name": "coze_session", "op": "flipbit", "pos": 9}},
 {"cookie": {"jar": "t3", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "t3", "name": "coze_session", "op": "flipbit"}},
 {"set": {"bad": "${cookie.t3.coze_session}"}},
 {"cookie": {"jar": "t4", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "t4", "name": "coze_session", "op": "flipbit", "pos": -2}},
 {"cookie": {"jar": "t5", "name": "coze_session", "copy_from_jar": "main"}},
 {"cookie": {"jar": "t5", "name": "coze_session", "op": "flipbit", "pos": -1}},
 {"label": "header byte", "get": "/app/a", "jar": "t1",
  "expect": {"status": 302, "location_re": "/authorize\\?",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "key id", "get": "/app/a", "jar": "t2",
  "expect": {"status": 302, "location_re": "/authorize\\?",
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "ciphertext", "get": "/app/a", "jar": "t3", "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"},
             "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "tag", "get": "/app/a", "jar": "t4", "headers": {"X-Requested-With": "XMLHttpRequest"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "last character (base64url padding bits)", "get": "/app/a", "jar": "t5",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "userinfo", "get": "/oauth/me", "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${bad}"}, "jar": false,
  "expect": {"status": 401}},
 {"label": "the upstream saw only the good one", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"upstream": 1, "token": 1}}},
 {"label": "the untouched cookie still works", "get": "/app/b",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}
--- error_log
coze auth: client sent an invalid session cookie (tampered or malformed)



=== TEST 2: truncated, padded, emptied, oversized and garbage session cookies are no session
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"set": {"good": "${cookie.main.coze_session}"}},
 {"label": "half", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${head:100:${good}}"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "10 characters", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${head:10:${good}}"},
  "expect": {"status": 401}},
 {"label": "empty", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session="},
  "expect": {"status": 401}},
 {"label": "no value", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session"},
  "expect": {"status": 401}},
 {"label": "appended", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${good}AAAA"},
  "expect": {"status": 401}},
 {"label": "not base64url", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${head:40:${good}}+/=.${head:40:${good}}"},
  "expect": {"status": 401}},
 {"label": "5000 characters", "get": "/app/a", "jar": false, "headers": {"Accept": "application/json",
   "Cookie": "coze_session=${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}${good}"},
  "expect": {"status": 401}},
 {"label": "two session cookies, the first broken", "get": "/app/a", "jar": false,
  "headers": {"Accept": "application/json",
              "Cookie": "coze_session=${head:50:${good}}; coze_session=${good}"},
  "expect": {"status": [200, 401]}},
 {"label": "the upstream saw none of them", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"upstream": {"max": 2}}}},
 {"label": "the good one still works", "get": "/app/b",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}}
]}



=== TEST 3: a cookie sealed with another key is no session
--- servers eval
$::OtherKeyServer
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "config": {"redirect_uris": {"*": ["http://127.0.0.1:@PORT2@/oauth/callback"]}}}},
 {"label": "login at the other server", "get": "http://127.0.0.1:@PORT2@/app/login", "follow": true,
  "expect": {"status": 200, "url_re": ":@PORT2@/app/login$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}},
             "jar": {"coze_session": {"present": true}}}},
 {"label": "its cookie here", "get": "/app/a", "headers": {"Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}},
             "requests": {"upstream": 1}}}
]}
--- error_log
coze auth: client sent an invalid session cookie (unknown key)



=== TEST 4: key rotation: "coze_auth_session_key A; coze_auth_session_key B;" opens a B cookie and re-seals it with A
--- servers eval
$::OtherKeyServer . <<'_EOC_'
    server {
        listen 127.0.0.1:$TEST_NGINX_COZE_PORT3;
        server_name key_a_only;

        location / {
            coze_auth on;
            proxy_set_header X-Coze-Result $coze_auth_result;
            proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
        }
    }
_EOC_
--- config_extra
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session.key;
    coze_auth_session_key $TEST_NGINX_DATA_DIR/session2.key;
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "config": {"redirect_uris": {"*": ["http://127.0.0.1:@PORT2@/oauth/callback"]}}}},
 {"label": "login where B seals", "get": "http://127.0.0.1:@PORT2@/app/login", "follow": true,
  "expect": {"status": 200, "json": {"headers.authorization": {"re": "^Bearer czu_"}}}},
 {"set": {"sealed_b": "${cookie.main.coze_session}"}},
 {"label": "A alone cannot open it", "get": "http://127.0.0.1:@PORT3@/app/x", "jar": false,
  "headers": {"Accept": "application/json", "Cookie": "coze_session=${sealed_b}"},
  "expect": {"status": 401}},
 {"label": "A then B: accepted and re-sealed", "get": "/app/rotated",
  "expect": {"status": 200,
             "json": {"headers.authorization": {"re": "^Bearer czu_"},
                      "headers.x-coze-result": "ok", "headers.cookie": {"exists": false}},
             "set_cookie": {"coze_session": {"present": true, "deleted": false,
                                             "value_re": "^[A-Za-z0-9_-]+$"}}}},
 {"label": "once only", "get": "/app/again",
  "expect": {"status": 200, "no_header": ["Set-Cookie"]}},
 {"label": "the new cookie is A's: A alone opens it", "get": "http://127.0.0.1:@PORT3@/app/x",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}, "no_header": ["Set-Cookie"]}},
 {"label": "and B alone no longer does", "get": "http://127.0.0.1:@PORT2@/app/x",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 401}},
 {"label": "one login, one code exchange", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"token": 1}}}
]}



=== TEST 5: a session past coze_auth_session_lifetime is no session, even when the browser keeps the cookie
--- http_extra
    coze_auth_session_lifetime 2s;
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"label": "Max-Age is the lifetime", "get": "/oauth/callback?return_to=%2Fapp%2Fx", "follow": true,
  "jar": "fresh",
  "expect": {"status": 200,
             "set_cookie": {"coze_session": {"attrs_re": "^ Max-Age=[12]; "}}}},
 {"set": {"kept": "${cookie.main.coze_session}"}},
 {"label": "valid within its lifetime", "get": "/app/x", "jar": false,
  "headers": {"Cookie": "coze_session=${kept}"},
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 {"sleep": 2.1},
 {"label": "expired", "get": "/app/x", "jar": false,
  "headers": {"Cookie": "coze_session=${kept}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"label": "expired, navigation: a new login", "get": "/app/x", "jar": false,
  "headers": {"Cookie": "coze_session=${kept}"},
  "expect": {"status": 302, "location_re": "/authorize\\?"}},
 {"label": "userinfo too", "get": "/oauth/me", "jar": false,
  "headers": {"Cookie": "coze_session=${kept}", "Accept": "application/json"},
  "expect": {"status": 401}}
]}



=== TEST 6: coze_auth_session_idle_timeout: activity keeps the session, idleness ends it
--- http_extra
    coze_auth_session_idle_timeout 3s;
--- scenario
{"steps": [
 {"mock": "reset"},
 LOGIN,
 {"set": {"first": "${cookie.main.coze_session}"}},
 {"sleep": 1.5},
 {"label": "active after 1.5 s: re-sealed", "get": "/app/x",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"},
             "set_cookie": {"coze_session": {"present": true, "deleted": false}}}},
 {"sleep": 1.6},
 {"label": "active again: more than 3 s after login, under 3 s after the last use", "get": "/app/x",
  "expect": {"status": 200, "json": {"headers.x-coze-result": "ok"}}},
 {"label": "the login's own cookie has been idle for 3 s", "get": "/app/x", "jar": false,
  "headers": {"Cookie": "coze_session=${first}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}},
 {"set": {"last": "${cookie.main.coze_session}"}},
 {"sleep": 3.1},
 {"label": "idle for 3 s", "get": "/app/x", "jar": false,
  "headers": {"Cookie": "coze_session=${last}", "Accept": "application/json"},
  "expect": {"status": 401, "set_cookie": {"coze_session": {"deleted": true}}}}
]}



=== TEST 7: replayed callbacks: the state works once; a replay is a 400 page and no session
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "protected", "get": "/app/r", "expect": {"status": 302},
  "save": {"authz": "location", "state": "location_param.state"}},
 {"label": "Coze", "get": "${authz}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"cookie": {"jar": "thief", "copy_from_jar": "main"}},
 {"label": "callback", "get": "${cb}",
  "expect": {"status": 302, "location_re": "/app/r$",
             "set_cookie": {"coze_session_st_${head:12:${state}}": {"deleted": true}}}},
 {"label": "logout", "get": "/oauth/logout", "expect": {"status": 302}},
 {"label": "the browser replays the callback", "get": "${cb}",
  "expect": {"status": 400, "header_re": {"Content-Type": "^text/html"},
             "body_re": "invalid_state", "body_not_re": "code_|czu_",
             "set_cookie": {"coze_session": {"present": false}},
             "requests": {"token": 1}}},
 {"label": "the same as an API request", "get": "${cb}", "headers": {"Accept": "application/json"},
  "expect": {"status": 400, "json": {"error": "invalid_state"}}},
 {"label": "a replay with the captured state cookie", "get": "${cb}", "jar": "thief",
  "expect": {"status": 400, "body_re": "invalid_grant",
             "set_cookie": {"coze_session": {"present": false}},
             "jar": {"coze_session": {"present": false}}, "jar_name": "thief"}}
]}



=== TEST 8: states from another browser, missing, bogus or tampered: 400 invalid_state, no session, no code exchange; the real logins still work
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "the victim starts a login", "get": "/app/v", "jar": "victim",
  "expect": {"status": 302}, "save": {"va": "location", "vs": "location_param.state"}},
 {"label": "the attacker starts one", "get": "/app/a", "jar": "attacker",
  "expect": {"status": 302}, "save": {"aa": "location", "as": "location_param.state"}},
 {"label": "the attacker gets a code", "get": "${aa}", "jar": "attacker",
  "expect": {"status": 302}, "save": {"acb": "location", "acode": "location_param.code"}},
 {"label": "the victim's browser opens the attacker's callback (login CSRF)", "get": "${acb}", "jar": "victim",
  "expect": {"status": 400, "body_re": "invalid_state",
             "set_cookie": {"coze_session": {"present": false},
                            "coze_session_st_${head:12:${vs}}": {"present": false}}}},
 {"label": "with the victim's state cookie copied under the attacker's name", "get": "${acb}",
  "jar": false,
  "headers": {"Cookie": "coze_session_st_${head:12:${as}}=${cookie.victim.coze_session_st_${head:12:${vs}}}"},
  "expect": {"status": 400, "body_re": "invalid_state", "set_cookie": {"coze_session": {"present": false}}}},
 {"cookie": {"jar": "both", "copy_from_jar": "victim"}},
 {"label": "a browser with the victim's cookies, the attacker's code and the victim's state prefix",
  "get": "/oauth/callback?code=${acode}&state=${head:12:${vs}}${head:20:${as}}", "jar": "both",
  "expect": {"status": 400, "body_re": "invalid_state"}},
 {"label": "no state cookie at all", "get": "${acb}", "jar": "empty",
  "expect": {"status": 400, "body_re": "invalid_state", "no_header": ["Set-Cookie"]}},
 {"label": "the victim's state, one character more", "get": "/oauth/callback?code=${acode}&state=${vs}A",
  "jar": "victim", "expect": {"status": 400}},
 {"label": "the victim's state, one character less", "get": "/oauth/callback?code=${acode}&state=${head:31:${vs}}",
  "jar": "victim", "expect": {"status": 400}},
 {"label": "short state", "get": "/oauth/callback?code=${acode}&state=abc", "jar": "victim",
  "expect": {"status": 400}},
 {"label": "empty state", "get": "/oauth/callback?code=${acode}&state=", "jar": "victim",
  "expect": {"status": 400}},
 {"label": "no state", "get": "/oauth/callback?code=${acode}", "jar": "victim",
  "expect": {"status": 400}},
 {"label": "long state", "get": "/oauth/callback?code=${acode}&state=${vs}${vs}${vs}${vs}${vs}${vs}${vs}${vs}${vs}${vs}",
  "jar": "victim", "expect": {"status": 400}},
 {"label": "state with control characters", "get": "/oauth/callback?code=${acode}&state=${head:12:${vs}}%00%0d%0aSet-Cookie:%20x=y%20%20%20%20%20",
  "jar": "victim", "expect": {"status": 400, "no_header": ["Set-Cookie"]}},
 {"label": "state with a bad escape", "get": "/oauth/callback?code=${acode}&state=${head:12:${vs}}%zz%%%41AAAAAAAAAAAAAAAA",
  "jar": "victim", "expect": {"status": 400}},
 {"label": "an error with a bogus state is still invalid_state", "get": "/oauth/callback?error=access_denied&state=nope",
  "jar": "victim", "expect": {"status": 400, "body_re": "invalid_state"}},
 {"label": "as an API request: JSON", "get": "${acb}", "jar": "empty",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 400, "header_re": {"Content-Type": "^application/json"},
             "json": {"error": "invalid_state"}}},
 {"label": "no code was exchanged", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"token": 0}}},
 {"label": "the victim's login completes", "get": "${va}", "jar": "victim", "follow": true,
  "expect": {"status": 200, "url_re": "/app/v$",
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}},
 {"label": "the attacker's code still works, in the attacker's browser", "get": "${acb}", "jar": "attacker",
  "expect": {"status": 302, "location_re": "/app/a$",
             "set_cookie": {"coze_session": {"present": true}},
             "requests": {"token:authorization_code:200": 2}}}
]}



=== TEST 9: a tampered or truncated state cookie: 400 invalid_state; the login can be started again
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "start", "get": "/app/t", "expect": {"status": 302},
  "save": {"authz": "location", "state": "location_param.state"}},
 {"label": "Coze", "get": "${authz}", "expect": {"status": 302}, "save": {"cb": "location"}},
 {"cookie": {"jar": "flip", "copy_from_jar": "main"}},
 {"cookie": {"jar": "flip", "name": "coze_session_st_${head:12:${state}}", "op": "flipbit", "pos": 30}},
 {"cookie": {"jar": "cut", "copy_from_jar": "main"}},
 {"cookie": {"jar": "cut", "name": "coze_session_st_${head:12:${state}}", "op": "truncate", "length": 40}},
 {"cookie": {"jar": "junk", "copy_from_jar": "main"}},
 {"cookie": {"jar": "junk", "name": "coze_session_st_${head:12:${state}}", "set": "*&^%$#@!"}},
 {"label": "flipped", "get": "${cb}", "jar": "flip",
  "expect": {"status": 400, "body_re": "invalid_state", "set_cookie": {"coze_session": {"present": false}}}},
 {"label": "truncated", "get": "${cb}", "jar": "cut",
  "expect": {"status": 400, "body_re": "invalid_state"}},
 {"label": "junk", "get": "${cb}", "jar": "junk",
  "expect": {"status": 400, "body_re": "invalid_state"}},
 {"label": "a session cookie in the state cookie's place", "get": "${cb}", "jar": false,
  "headers": {"Cookie": "coze_session_st_${head:12:${state}}=${cookie.main.coze_session_st_${head:12:${state}}}x"},
  "expect": {"status": 400}},
 {"label": "nothing exchanged", "get": "${mock}/__mock/ping", "jar": false,
  "expect": {"requests": {"token": 0}}},
 {"label": "the untouched browser logs in", "get": "${cb}",
  "expect": {"status": 302, "location_re": "/app/t$", "set_cookie": {"coze_session": {"present": true}}}}
]}
--- error_log
coze auth: client sent an invalid state cookie



=== TEST 10: on https the cookies are Secure (secure=auto), the redirect_uri is https, and the session never goes over http
--- config_extra
    listen 127.0.0.1:$TEST_NGINX_COZE_PORT3 ssl;
    ssl_certificate $TEST_NGINX_DATA_DIR/server.pem;
    ssl_certificate_key $TEST_NGINX_DATA_DIR/server.key;
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "config": {"redirect_uris": {"*": ["https://127.0.0.1:@PORT3@/oauth/callback"]}}}},
 {"label": "http: no Secure", "get": "/app/plain", "jar": "plain",
  "expect": {"status": 302,
             "header_re": {"Set-Cookie": "^coze_session_st_[A-Za-z0-9_-]{12}=[A-Za-z0-9_-]+; Max-Age=600; Path=/; HttpOnly; SameSite=Lax$"}}},
 {"label": "https", "get": "https://127.0.0.1:@PORT3@/app/s",
  "expect": {"status": 302,
             "location_params": {"redirect_uri": "^https://127\\.0\\.0\\.1:@PORT3@/oauth/callback$"},
             "header_re": {"Set-Cookie": "^coze_session_st_[A-Za-z0-9_-]{12}=[A-Za-z0-9_-]+; Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure$"}},
  "save": {"authz": "location"}},
 {"label": "login over https", "get": "${authz}", "follow": true,
  "expect": {"status": 200, "url_re": "^https://127\\.0\\.0\\.1:@PORT3@/app/s$",
             "set_cookie": {"coze_session": {"attrs_re": "^ Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax; Secure$"}},
             "json": {"headers.authorization": {"re": "^Bearer czu_"}}}},
 {"label": "the browser does not send it over http", "get": "/app/plain",
  "expect": {"status": 302, "location_re": "/authorize\\?"}},
 {"label": "logout over https deletes it with the same attributes", "get": "https://127.0.0.1:@PORT3@/oauth/logout",
  "expect": {"status": 302,
             "set_cookie": {"coze_session": {"deleted": true,
                                             "attrs_re": "^ Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure$"}}}}
]}



=== TEST 11: coze_auth_cookie name=, secure=on, samesite=strict: the session cookie follows them, the state cookie stays Lax
--- http_extra
    coze_auth_cookie name=my_sess secure=on samesite=strict;
--- config_extra
    listen 127.0.0.1:$TEST_NGINX_COZE_PORT3 ssl;
    ssl_certificate $TEST_NGINX_DATA_DIR/server.pem;
    ssl_certificate_key $TEST_NGINX_DATA_DIR/server.key;
--- scenario
{"steps": [
 {"mock": {"reset": true,
           "config": {"redirect_uris": {"*": ["https://127.0.0.1:@PORT3@/oauth/callback"]}}}},
 {"label": "Secure even on http (TLS ends before nginx)", "get": "/app/x", "jar": "plain",
  "expect": {"status": 302,
             "header_re": {"Set-Cookie": "^my_sess_st_[A-Za-z0-9_-]{12}=[A-Za-z0-9_-]+; Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure$"}}},
 {"label": "login", "get": "https://127.0.0.1:@PORT3@/app/x", "follow": true,
  "expect": {"status": 200,
             "set_cookie": {"my_sess": {"attrs_re": "^ Max-Age=2592000; Path=/; HttpOnly; SameSite=Strict; Secure$"}},
             "jar": {"coze_session": {"present": false}},
             "json": {"headers.authorization": {"re": "^Bearer czu_"},
                      "headers.cookie": {"exists": false}}}},
 {"label": "the cookie under the default name means nothing", "get": "https://127.0.0.1:@PORT3@/app/y",
  "jar": false, "headers": {"Accept": "application/json",
                            "Cookie": "coze_session=${cookie.main.my_sess}"},
  "expect": {"status": 401, "json": {"error": "unauthenticated"}}}
]}



=== TEST 12: at most 4 logins per browser: the 5th evicts the oldest state cookie (an unreadable one first)
--- scenario
{"steps": [
 {"mock": "reset"},
 {"cookie": {"name": "coze_session_st_AAAAAAAAAAAA", "set": "unreadable"}},
 {"label": "1", "get": "/f/1", "expect": {"status": 302}, "save": {"a1": "location", "s1": "location_param.state"}},
 {"label": "2", "get": "/f/2", "expect": {"status": 302}, "save": {"a2": "location", "s2": "location_param.state"}},
 {"label": "3", "get": "/f/3", "expect": {"status": 302},
  "save": {"a3": "location", "s3": "location_param.state"}},
 {"label": "4 evicts the unreadable one", "get": "/f/4",
  "expect": {"status": 302,
             "set_cookie": {"coze_session_st_AAAAAAAAAAAA": {"deleted": true},
                            "coze_session_st_${head:12:${s1}}": {"present": false}},
             "jar": {"coze_session_st_AAAAAAAAAAAA": {"present": false}}},
  "save": {"a4": "location", "s4": "location_param.state"}},
 {"label": "5 evicts login 1", "get": "/f/5",
  "expect": {"status": 302,
             "set_cookie": {"coze_session_st_${head:12:${s1}}": {"deleted": true},
                            "coze_session_st_${head:12:${s2}}": {"present": false}},
             "jar": {"coze_session_st_${head:12:${s1}}": {"present": false},
                     "coze_session_st_${head:12:${s2}}": {"present": true},
                     "coze_session_st_${head:12:${s3}}": {"present": true},
                     "coze_session_st_${head:12:${s4}}": {"present": true}}},
  "save": {"a5": "location", "s5": "location_param.state"}},
 {"label": "login 1 can no longer finish", "get": "${a1}", "follow": true,
  "expect": {"status": 400, "body_re": "invalid_state", "requests": {"token": 0}}},
 {"label": "login 5 finishes", "get": "${a5}", "follow": true,
  "expect": {"status": 200, "url_re": "/f/5$", "requests": {"token": 1}}},
 {"label": "login 2 finishes (the session exists: just redirects)", "get": "${a2}", "follow": true,
  "expect": {"status": 200, "url_re": "/f/2$", "requests": {"token": 1},
             "jar": {"coze_session_st_${head:12:${s2}}": {"present": false}}}}
]}
