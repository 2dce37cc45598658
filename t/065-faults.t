# Fault injection at every call site (issue 8): each fault the mock Coze
# server can inject, at the code exchange, users/me, the refresh and the
# JWT service token call.  Every block checks what the user gets, the log
# line that explains it, and that the worker goes on serving (a follow-up
# login or request succeeds).
#
# Faults ("kind" in the mock's /__mock/fault):
#   delay      the answer comes 3 s late; coze_auth_timeout is 1s here
#   reset      the connection is reset (RST) instead of an answer
#   500 json   HTTP 500 with Coze's JSON error body
#   400 json   HTTP 400 with Coze's JSON error body
#   403 html   HTTP 403 with an HTML body (a proxy or WAF page)
#   502 html   HTTP 502 with an HTML body
#   malformed  200, application/json, '{"access_token": "czu_trunc'
#   truncated  the body ends before its Content-Length, the connection closes
#   huge       the JSON answer padded to 1 MiB, over the module's 256 KiB cap
#   wrong ct   a correct JSON answer sent as text/html
#
# Outcomes (browser navigations; "call failed" is the [info] line
# "coze auth: <endpoint> call failed: status N, T ms, <reason>, logid ..."):
#
#   fault      | code exchange | users/me      | refresh        | JWT token
#   -----------+---------------+---------------+----------------+-----------
#   delay      | 504 unavail.  | 504 unavail.  | 200 old token  | 502 (*)
#   reset      | 502 unavail.  | 502 unavail.  | 200 old token  | 502
#   500 json   | 502 coze_err. | 502 coze_err. | 200 old token  | 502
#   400 json   | 400 inv_grant | 502 coze_err. | session ended  | 502
#   403 html   | 502 coze_err. | 502 coze_err. | 200 old token  | 502
#   502 html   | 502 coze_err. | 502 coze_err. | 200 old token  | 502
#   malformed  | 502 coze_err. | 502 coze_err. | 200 old token  | 502
#   truncated  | 502 unavail.  | 502 unavail.  | 200 old token  | 502
#   huge       | 502 unavail.  | 502 unavail.  | 200 old token  | 502
#   wrong ct   | signed in     | signed in     | refreshed      | minted
#
#   unavail. = error page "coze_unavailable" (transport: timeout, reset,
#              truncated, over 256 KiB); coze_err. = "coze_error" (Coze said
#              no, or said something unreadable; the line names Coze's
#              logid); inv_grant = "invalid_grant" (Coze refused the code).
#   200 old token = the request goes on with the current, still valid,
#              access token (a [warn] says the refresh failed); session ended
#              = Coze refused the refresh token: the cookie is deleted and the
#              login starts again (302 to Coze).  With an EXPIRED access
#              token a failed refresh gives API requests 503 and navigations
#              the login redirect (last blocks).
#   JWT: no cached token, so the request fails: 502 for navigations, 503
#              for API requests; the failure is kept as "retry later" for 5 s,
#              during which requests for that token fail at once without a
#              call to Coze, while other tokens (another
#              coze_auth_jwt_session_name) are minted as usual.
#              (*) docs/architecture.md's failure table still says 504 on a
#              timeout; since service tokens are minted by tasks the waiting
#              request only learns "retry later", so it gets 502/503.
#   Content-Type is not checked: a correct JSON body is accepted whatever it
#   is labelled; an HTML body fails as unreadable (403/502 html).
#
# Each block is generated from three sections: "--- site" (code, users_me,
# refresh, jwt), "--- fault" (the mock fault as JSON, without endpoint and
# grant_type) and "--- outcome" (a name from %Outcome below), plus the usual
# error_log checks.

use lib 't/lib';
use CozeTest;
use CozeConf;
use JSON::PP ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

my $JwtGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

# where the fault goes, and the mock's request-log key of that call
my %Site = (
    code     => { fault => { endpoint => 'token',
                             grant_type => 'authorization_code' },
                  key => 'token:authorization_code' },
    users_me => { fault => { endpoint => 'users_me' }, key => 'users_me' },
    refresh  => { fault => { endpoint => 'token',
                             grant_type => 'refresh_token' },
                  key => 'token:refresh_token' },
    jwt      => { fault => { endpoint => 'token', grant_type => $JwtGrant },
                  key => "token:$JwtGrant" },
);

# what the faulted request must get
my %Outcome = (
    'unavailable 504' => { status => 504, header_re => { 'Content-Type' => '^text/html' },
                           body_re => 'did not answer in time.*error: coze_unavailable',
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'unavailable 502' => { status => 502,
                           body_re => 'could not be reached.*error: coze_unavailable',
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'coze_error'      => { status => 502, body_re => 'error: coze_error',
                           body_not_re => 'czu_|x_padding|<html>busy',
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'invalid_grant'   => { status => 400, body_re => 'error: invalid_grant',
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'signed in'       => { status => 302, location_re => '/app/page$',
                           set_cookie => { coze_session => { present => JSON::PP::true } } },
    'old token'       => { status => 200,
                           json => { 'headers.authorization' => '${tok}' },
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'refreshed'       => { status => 200,
                           json => { 'headers.x-coze-result' => 'refreshed',
                                     'headers.authorization' => { ne => '${tok}',
                                                                  re => '^Bearer czu_' } },
                           set_cookie => { coze_session => { present => JSON::PP::true } } },
    'session ended'   => { status => 302, location_re => '/api/permission/oauth2/authorize\?',
                           set_cookie => { coze_session => { deleted => JSON::PP::true } } },
    'jwt 502'         => { status => 502 },
    'jwt 503'         => { status => 503 },
    'minted'          => { status => 200,
                           json => { 'headers.authorization' => { re => '^Bearer czs_' } } },
    'login again'     => { status => 302, location_re => '/api/permission/oauth2/authorize\?',
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
    'api 503'         => { status => 503,
                           set_cookie => { coze_session => { present => JSON::PP::false } } },
);

my $Json = JSON::PP->new->canonical;

sub scenario {
    my ($site, $fault, $outcome, $block) = @_;
    my $s = $Site{$site} or die "065-faults.t: unknown site $site\n";
    my $exp = $Outcome{$outcome} or die "065-faults.t: unknown outcome $outcome\n";
    my $f = $Json->decode($fault);
    $f = { %$f, %{ $s->{fault} } };
    my %faulted = (label => "faulted $site call", expect => { %$exp });
    my $headers = $block->api ? { Accept => 'application/json' } : undef;
    my @steps = ({ mock => { reset => JSON::PP::true,
                             $block->mock_config
                             ? (config => $Json->decode($block->mock_config))
                             : () } });

    if ($site eq 'code' || $site eq 'users_me') {
        push @steps,
            { mock => { fault => $f } },
            { label => 'protected', get => '/app/page', expect => { status => 302 } },
            { label => 'authorize', get => '${last.location}',
              expect => { status => 302 }, save => { cb => 'location' } };
        $faulted{get} = '${cb}';
        $faulted{expect}{requests} = { $s->{key} => { min => 1 } };

    } elsif ($site eq 'refresh') {
        # coze_auth_refresh_ahead (1000s) > the mock's access_ttl (900s):
        # every request refreshes, the login's last hop too
        push @steps,
            { label => 'login', get => '/app/page', follow => JSON::PP::true,
              expect => { status => 200,
                          requests => { 'token:refresh_token' => 1 } },
              save => { tok => 'json.headers.authorization' } },
            { mock => { fault => $f } };
        $faulted{get} = '/app/page';
        $faulted{expect}{requests} = { $s->{key} => { min => 2 } };

    } else {
        # coze_auth_jwt_session_name $arg_u: one token (and one cache
        # record) per end user
        push @steps, { mock => { fault => $f } };
        $faulted{get} = '/app/x?u=alice';
        $faulted{expect}{requests} = { $s->{key} => 1 };
    }

    $faulted{headers} = $headers if $headers;
    push @steps, \%faulted;

    # the worker goes on: a new login (new browser), or a new JWT request
    if ($site eq 'jwt' && $exp->{status} != 200) {
        # documented: a failed mint is "retry later" for 5 s, requests for
        # that token in the window fail at once without calling Coze ...
        push @steps, { label => 'retry window', get => '/app/x?u=alice',
                       $headers ? (headers => $headers) : (),
                       expect => { status => $exp->{status},
                                   requests => { $s->{key} => 1 } } };
    }
    if ($site eq 'jwt') {
        # ... while other tokens are minted as usual
        push @steps, { label => 'next request works', get => '/app/y?u=bob',
                       expect => { status => 200,
                                   json => { 'headers.authorization'
                                             => { re => '^Bearer czs_' } } } };
    } else {
        push @steps, { label => 'next login works', jar => 'b', get => '/app/next',
                       follow => JSON::PP::true,
                       expect => { status => 200, url_re => '/app/next$' } };
    }

    return $Json->pretty->encode({ steps => \@steps });
}

add_block_preprocessor(sub {
    my $block = shift;
    my $site = $block->site;
    if (defined $site) {
        $site =~ s/\s+//g;
        (my $outcome = $block->outcome // '') =~ s/^\s+|\s+$//g;
        $block->set_value("request", "POST /t\n"
                          . scenario($site, $block->fault, $outcome, $block));
        my $extra = $site eq 'refresh' ? "    coze_auth_refresh_ahead 1000s;\n"
                  : $site eq 'jwt'     ? "    coze_auth_jwt_session_name \$arg_u;\n"
                  : '';
        $block->set_value("http_config",
                          coze_http($site eq 'jwt' ? 'jwt' : 'web',
                                    extra => $extra))
            unless defined $block->http_config;
        $block->set_value("config", "    coze_auth_timeout 1s;\n"
                          . ($site eq 'jwt'
                             ? coze_browse_location() . <<'_EOC_' : coze_server()))
    location / {
        coze_auth on;
        proxy_set_header X-Coze-Result $coze_auth_result;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
_EOC_
            unless defined $block->config;
    }
    scenario_defaults($block, 20);
});

run_tests();

__DATA__

=== TEST 1: code exchange: the answer is later than coze_auth_timeout
--- site: code
--- fault: {"kind": "delay", "seconds": 3}
--- outcome: unavailable 504
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, timed out/,
 qr/\[error\] .*coze auth: login failed: code exchange: timed out/]



=== TEST 2: code exchange: connection reset
--- site: code
--- fault: {"kind": "reset"}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 0, \d+ ms, transfer failed: [^,]*reset/i,
 qr/\[error\] .*coze auth: login failed: code exchange: transfer failed/]



=== TEST 3: code exchange: HTTP 500 with a JSON error
--- site: code
--- fault: {"kind": "status", "status": 500}
--- outcome: coze_error
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 500, \d+ ms, error answer, logid "\d{14}[0-9A-F]{20}"/,
 qr/\[error\] .*coze auth: login failed: code exchange: HTTP 500, Coze error "internal_error" "Service internal error\.", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 4: code exchange: HTTP 400 with a JSON error (Coze refuses the code)
--- site: code
--- fault: {"kind": "status", "status": 400, "error_code": "invalid_grant", "error_message": "code expired"}
--- outcome: invalid_grant
--- error_log eval
[qr/\[error\] .*coze auth: login failed: code exchange: HTTP 400, Coze error "invalid_grant" "code expired", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 5: code exchange: HTTP 403 with an HTML page
--- site: code
--- fault: {"kind": "status", "status": 403, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: code exchange: HTTP 403, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 6: code exchange: HTTP 502 with an HTML page
--- site: code
--- fault: {"kind": "status", "status": 502, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: code exchange: HTTP 502, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 7: code exchange: malformed JSON
--- site: code
--- fault: {"kind": "malformed"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: code exchange: HTTP 200, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 8: code exchange: truncated body
--- site: code
--- fault: {"kind": "truncated"}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 200, \d+ ms, transfer failed: [^,]*, logid "\d{14}[0-9A-F]{20}"/,
 qr/\[error\] .*coze auth: login failed: code exchange: transfer failed/]



=== TEST 9: code exchange: a 1 MiB answer (over the 256 KiB cap)
--- site: code
--- fault: {"kind": "huge", "bytes": 1048576}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: token call failed: status 200, \d+ ms, response too large/,
 qr/\[error\] .*coze auth: login failed: code exchange: response too large/]



=== TEST 10: code exchange: a 200 KiB answer (under the cap) is accepted
--- site: code
--- fault: {"kind": "huge", "bytes": 204800}
--- outcome: signed in
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 11: code exchange: a correct answer labelled text/html is accepted
--- site: code
--- fault: {"kind": "wrong_content_type"}
--- outcome: signed in
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 12: users/me: the answer is later than coze_auth_timeout
--- site: users_me
--- fault: {"kind": "delay", "seconds": 3}
--- outcome: unavailable 504
--- error_log eval
[qr/\[info\] .*coze auth: users\/me call failed: status 0, \d+ ms, timed out/,
 qr/\[error\] .*coze auth: login failed: users\/me: timed out/]



=== TEST 13: users/me: connection reset
--- site: users_me
--- fault: {"kind": "reset", "count": 2}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: users\/me call failed: status 0, \d+ ms, transfer failed: [^,]*reset/i,
 qr/\[error\] .*coze auth: login failed: users\/me: transfer failed/]



=== TEST 14: users/me: HTTP 500 with a JSON error
--- site: users_me
--- fault: {"kind": "status", "status": 500, "code": 5000, "msg": "internal error"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: users\/me: HTTP 500, Coze error "5000" "internal error", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 15: users/me: HTTP 401 with a JSON error
--- site: users_me
--- fault: {"kind": "status", "status": 401, "code": 4100, "msg": "authentication is invalid"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: users\/me: HTTP 401, Coze error "4100" "authentication is invalid", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 16: users/me: HTTP 403 with an HTML page
--- site: users_me
--- fault: {"kind": "status", "status": 403, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: users\/me: HTTP 403, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 17: users/me: HTTP 502 with an HTML page
--- site: users_me
--- fault: {"kind": "status", "status": 502, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: users\/me: HTTP 502, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 18: users/me: malformed JSON
--- site: users_me
--- fault: {"kind": "malformed", "body": "{\"code\": 0, \"data\": {\"user_id\": "}
--- outcome: coze_error
--- error_log eval
[qr/\[error\] .*coze auth: login failed: users\/me: HTTP 200, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 19: users/me: truncated body
--- site: users_me
--- fault: {"kind": "truncated"}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: users\/me call failed: status 200, \d+ ms, transfer failed/,
 qr/\[error\] .*coze auth: login failed: users\/me: transfer failed/]



=== TEST 20: users/me: a 1 MiB answer
--- site: users_me
--- fault: {"kind": "huge", "bytes": 1048576}
--- outcome: unavailable 502
--- error_log eval
[qr/\[info\] .*coze auth: users\/me call failed: status 200, \d+ ms, response too large/,
 qr/\[error\] .*coze auth: login failed: users\/me: response too large/]



=== TEST 21: users/me: a correct answer labelled text/html is accepted
--- site: users_me
--- fault: {"kind": "wrong_content_type"}
--- outcome: signed in
--- error_log
coze auth: user "7380000000000000001" signed in



=== TEST 22: refresh: the answer is later than coze_auth_timeout
--- site: refresh
--- fault: {"kind": "delay", "seconds": 3}
--- outcome: old token
--- error_log eval
[qr/\[info\] .*coze auth: refresh call failed: status 0, \d+ ms, timed out/,
 qr/\[warn\] .*coze auth: refresh failed \(timed out, HTTP 0\), the session keeps its token/]



=== TEST 23: refresh: connection reset
--- site: refresh
--- fault: {"kind": "reset", "count": 2}
--- outcome: old token
--- error_log eval
[qr/\[info\] .*coze auth: refresh call failed: status 0, \d+ ms, transfer failed: [^,]*reset/i,
 qr/\[warn\] .*coze auth: refresh failed \(transfer failed, HTTP 0\), the session keeps its token/]



=== TEST 24: refresh: HTTP 500 with a JSON error
--- site: refresh
--- fault: {"kind": "status", "status": 500}
--- outcome: old token
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \([^)]*HTTP 500\), the session keeps its token, .*logid "\d{14}[0-9A-F]{20}"/]



=== TEST 25: refresh: HTTP 400 with a JSON error: Coze refuses the refresh token, the session ends
--- site: refresh
--- fault: {"kind": "status", "status": 400, "error_code": "invalid_grant", "error_message": "refresh token revoked"}
--- outcome: session ended
--- error_log eval
[qr/\[warn\] .*coze auth: refresh refused, the session ends: HTTP 400, Coze error "invalid_grant" "refresh token revoked", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 26: refresh: HTTP 403 with an HTML page
--- site: refresh
--- fault: {"kind": "status", "status": 403, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: old token
--- error_log eval
[qr/\[error\] .*coze auth: refresh: invalid response from Coze, HTTP 403, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 27: refresh: HTTP 502 with an HTML page
--- site: refresh
--- fault: {"kind": "status", "status": 502, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: old token
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \([^)]*HTTP 502\), the session keeps its token, .*logid "\d{14}[0-9A-F]{20}"/]



=== TEST 28: refresh: malformed JSON
--- site: refresh
--- fault: {"kind": "malformed"}
--- outcome: old token
--- error_log eval
[qr/\[error\] .*coze auth: refresh: invalid response from Coze, HTTP 200, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 29: refresh: truncated body
--- site: refresh
--- fault: {"kind": "truncated", "process": false}
--- outcome: old token
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \(transfer failed, HTTP 200\), the session keeps its token/]



=== TEST 30: refresh: a 1 MiB answer
--- site: refresh
--- fault: {"kind": "huge", "bytes": 1048576, "process": false}
--- outcome: old token
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \(response too large, HTTP 200\), the session keeps its token/]



=== TEST 31: refresh: a correct answer labelled text/html is accepted
--- site: refresh
--- fault: {"kind": "wrong_content_type"}
--- outcome: refreshed
--- no_error_log
[alert]
[crit]
refresh failed



=== TEST 32: refresh with an EXPIRED access token, connection reset: API requests get 503
--- site: refresh
--- mock_config: {"clock_offset": -2000}
--- api: 1
--- fault: {"kind": "reset", "count": 1}
--- outcome: api 503
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \(transfer failed, HTTP 0\)/,
 qr/\[error\] .*coze auth: the access token has expired and could not be refreshed/]



=== TEST 33: refresh with an EXPIRED access token, connection reset: navigations go to the login
--- site: refresh
--- mock_config: {"clock_offset": -2000}
--- fault: {"kind": "reset", "count": 1}
--- outcome: login again
--- error_log eval
[qr/\[warn\] .*coze auth: refresh failed \(transfer failed, HTTP 0\)/,
 qr/\[error\] .*coze auth: the access token has expired and could not be refreshed/]



=== TEST 34: JWT token: the answer is later than coze_auth_timeout
--- site: jwt
--- fault: {"kind": "delay", "seconds": 3}
--- outcome: jwt 502
--- error_log eval
[qr/\[info\] .*coze auth: jwt token call failed: status 0, \d+ ms, timed out/,
 qr/\[error\] .*coze auth: jwt token request failed: timed out: /,
 qr/\[error\] .*coze auth: no service token: the last request to Coze failed/]



=== TEST 35: JWT token: connection reset
--- site: jwt
--- fault: {"kind": "reset"}
--- outcome: jwt 502
--- error_log eval
[qr/\[info\] .*coze auth: jwt token call failed: status 0, \d+ ms, transfer failed: [^,]*reset/i,
 qr/\[error\] .*coze auth: jwt token request failed: transfer failed: [^,]*reset/i]



=== TEST 36: JWT token: connection reset, API request: 503
--- site: jwt
--- api: 1
--- fault: {"kind": "reset"}
--- outcome: jwt 503
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request failed: transfer failed/]



=== TEST 37: JWT token: HTTP 500 with a JSON error
--- site: jwt
--- fault: {"kind": "status", "status": 500}
--- outcome: jwt 502
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request refused: HTTP 500, Coze error "internal_error" "Service internal error\.", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 38: JWT token: HTTP 400 with a JSON error
--- site: jwt
--- fault: {"kind": "status", "status": 400, "error_code": "invalid_request", "error_message": "bad jwt"}
--- outcome: jwt 502
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request refused: HTTP 400, Coze error "invalid_request" "bad jwt", logid "\d{14}[0-9A-F]{20}"/]



=== TEST 39: JWT token: HTTP 403 with an HTML page
--- site: jwt
--- fault: {"kind": "status", "status": 403, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: jwt 502
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request failed: HTTP 403, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 40: JWT token: HTTP 502 with an HTML page
--- site: jwt
--- fault: {"kind": "status", "status": 502, "body": "<html>busy</html>", "content_type": "text/html"}
--- outcome: jwt 502
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request failed: HTTP 502, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 41: JWT token: malformed JSON
--- site: jwt
--- fault: {"kind": "malformed"}
--- outcome: jwt 502
--- error_log eval
[qr/\[error\] .*coze auth: jwt token request failed: HTTP 200, invalid response from Coze, logid "\d{14}[0-9A-F]{20}"/]



=== TEST 42: JWT token: truncated body
--- site: jwt
--- fault: {"kind": "truncated"}
--- outcome: jwt 502
--- error_log eval
[qr/\[info\] .*coze auth: jwt token call failed: status 200, \d+ ms, transfer failed/,
 qr/\[error\] .*coze auth: jwt token request failed: transfer failed: /]



=== TEST 43: JWT token: a 1 MiB answer
--- site: jwt
--- fault: {"kind": "huge", "bytes": 1048576}
--- outcome: jwt 502
--- error_log eval
[qr/\[info\] .*coze auth: jwt token call failed: status 200, \d+ ms, response too large/,
 qr/\[error\] .*coze auth: jwt token request failed: response too large/]



=== TEST 44: JWT token: a correct answer labelled text/html is accepted
--- site: jwt
--- fault: {"kind": "wrong_content_type"}
--- outcome: minted
--- no_error_log
[alert]
[crit]
jwt token request
