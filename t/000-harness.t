# Self-test of the test harness: plain nginx only (the Coze module is NOT
# loaded here, so this file deliberately does not `use CozeTest`).
#
# It must pass both under the bundled runner (prove -I t/compat) and under
# the real OpenResty Test::Nginx::Socket.  The plan below is exact on
# purpose: it checks that both runners emit the same number of assertions.

use Test::Nginx::Socket;

repeat_each(2);

$ENV{TEST_NGINX_HARNESS_VAR} = 'harness-var-value';

# Every block without its own request gets "GET /t".
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request && !defined $block->raw_request) {
        $block->set_value("request", "GET /t\n");
    }
});

# Assertions per repetition, block by block (TEST 16 is SKIPped and TEST 22
# comes after LAST, so neither counts).
# Counted by hand, per repetition:
#  1: status, body                                        = 2
#  2: status, X-Foo, Content-Type, !X-Absent, body        = 5
#  3: status 404, body_like                               = 2
#  4: status, body (more_headers echo)                    = 2
#  5: status, body (more_headers eval)                    = 2
#  6: status, body (POST, Content-Length of trimmed body) = 2
#  7: 2 x (status + body)                                 = 4
#  8: status 404, error_log (2 patterns), no_error_log (2)= 5
#  9: status, body, error_log eval [str, qr]              = 4
# 10: must_die: die as expected, error_log (1)            = 2
# 11: abort + ignore_response: no_error_log (1)           = 1
# 12: status, header chunked, body (user_files + ssi)     = 3
# 13: status, body ($TEST_NGINX_* in config + body)       = 2
# 14: status, headers_like X-Foo                          = 2
# 15: status, body_unlike                                 = 2
# 17: status, body (raw_request eval, HTTP/1.0)           = 2
# 18: status, body (response_body eval)                   = 2
# 19: status, body (HEAD: empty body)                     = 2
# 20: status, body, wait + error_log (1)                  = 3
# 21: status, body (LAST)                                 = 2
my $per_repeat = 2 + 5 + 2 + 2 + 2 + 2 + 4 + 5 + 4 + 2 + 1 + 3 + 2 + 2 + 2
               + 2 + 2 + 2 + 3 + 2;

plan tests => repeat_each() * $per_repeat;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 200 with a body
--- config
    location = /t {
        return 200 "hello world\n";
    }
--- response_body
hello world



=== TEST 2: response headers, present and absent
--- config
    location = /t {
        default_type text/x-harness;
        add_header X-Foo "bar baz";
        return 200 "ok";
    }
--- response_headers
X-Foo: bar baz
Content-Type: text/x-harness
!X-Absent
--- response_body chomp
ok



=== TEST 3: 404 for a missing location
--- config
    location = /t {
        return 404;
    }
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 4: more_headers echoed back
--- config
    location = /t {
        return 200 "x-foo=[$http_x_foo] x-bar=[$http_x_bar]";
    }
--- more_headers
X-Foo: hello
X-Bar: a b c
--- response_body chomp
x-foo=[hello] x-bar=[a b c]



=== TEST 5: more_headers eval
--- config
    location = /t {
        return 200 "cookie=[$http_cookie]";
    }
--- more_headers eval
"Cookie: a=" . (1 + 2) . "; b=$ENV{TEST_NGINX_HARNESS_VAR}"
--- response_body chomp
cookie=[a=3; b=harness-var-value]



=== TEST 6: POST with a body gets a Content-Length
--- config
    location = /t {
        return 200 "$request_method len=$http_content_length";
    }
--- request
POST /t
hello world
--- response_body chomp
POST len=11



=== TEST 7: request eval with an array of requests
--- config
    location = /a {
        return 200 "A";
    }
    location = /b {
        return 404;
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^A\$", "404 Not Found"]



=== TEST 8: error_log and no_error_log
--- config
    location = /t {
        root html;
    }
--- request
GET /t/missing.txt
--- error_code: 404
--- error_log
[error]
No such file or directory
--- no_error_log
[alert]
[crit]



=== TEST 9: error_log eval with strings and regexes
--- config
    location = /t {
        error_log logs/error.log info;
        return 200 "ok";
    }
--- request
GET /t?arg=1
--- response_body chomp
ok
--- error_log eval
["http request line: \"GET /t?arg=1 HTTP/1.1\"", qr/http args: "arg=\d"/]



=== TEST 10: must_die on an unknown directive
--- config
    location = /t {
        harness_no_such_directive on;
    }
--- must_die
--- suppress_stderr
--- error_log
unknown directive "harness_no_such_directive"



=== TEST 11: client timeout with abort is not a failure
--- config
    location = /t {
        return 200 "never";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[error]



=== TEST 12: user_files and a chunked response
--- config
    location = /t {
        ssi on;
        default_type text/html;
        rewrite ^ /ssi.html break;
    }
--- user_files
>>> ssi.html
before <!--# echo var="host" --> after
--- response_headers
Transfer-Encoding: chunked
--- response_body
before localhost after



=== TEST 13: $TEST_NGINX_* variables in config and response_body
--- http_config
    map $host $harness_var {
        default "$TEST_NGINX_HARNESS_VAR";
    }
--- config
    location = /t {
        return 200 "$harness_var port=$TEST_NGINX_SERVER_PORT\n";
    }
--- response_body
$TEST_NGINX_HARNESS_VAR port=$TEST_NGINX_SERVER_PORT



=== TEST 14: response_headers_like
--- config
    location = /t {
        add_header X-Foo "value-123";
        return 200;
    }
--- response_headers_like
X-Foo: value-\d+



=== TEST 15: response_body_unlike
--- config
    location = /t {
        return 200 "all good";
    }
--- response_body_unlike: error



=== TEST 16: SKIPped blocks never run
--- config
    location = /t {
        return 500;
    }
--- error_code: 200
--- SKIP



=== TEST 17: raw_request eval (HTTP/1.0)
--- config
    location = /t {
        return 200 "proto=$server_protocol";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body chomp
proto=HTTP/1.0



=== TEST 18: response_body eval
--- config
    location = /t {
        return 200 "$arg_a$arg_a$arg_a";
    }
--- request
GET /t?a=xy
--- response_body eval
"xy" x 3



=== TEST 19: HEAD request has no body
--- config
    location = /t {
        return 200 "body";
    }
--- request
HEAD /t
--- response_body chomp



=== TEST 20: wait before checking the error log
--- config
    location = /t {
        return 200 "ok";
    }
--- response_body chomp
ok
--- wait: 0.1
--- error_log
http finalize request



=== TEST 21: the LAST block
--- config
    location = /t {
        return 200 "last";
    }
--- response_body chomp
last
--- LAST



=== TEST 22: blocks after LAST never run
--- config
    location = /t {
        return 500;
    }
--- error_code: 200
