# coze_auth_status: the counters an operator graphs move by exactly what
# happened (a login, a forced refresh, a JWT mint and reuse, a tampered
# cookie), in JSON and in the Prometheus text format; and the Prometheus
# output passes "promtool check metrics".

use lib 't/lib';
use CozeTest;
use CozeConf;
use File::Temp qw(tempfile);
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

# the mock's web app at http level, its JWT app in /svc/
my $jwt = <<'_EOC_';
        coze_auth_client_type jwt;
        coze_auth_client_id 1173227358491;
        coze_auth_jwt_private_key_file $TEST_NGINX_DATA_DIR/jwt_private.pem;
        coze_auth_jwt_public_key_id hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As;
_EOC_

my $server = coze_server() . <<"_EOC_";
    location = /status {
        coze_auth_status;
    }

    location /svc/ {
        coze_auth on;
$jwt
        proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_PORT/;
    }
_EOC_

# "promtool check metrics" on the body of a block that asks for it
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return unless defined $block->promtool && !$dry_run;

    my $name = $block->name;
    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};

    if (!$promtool) {
        fail("$name - promtool is installed (apt-get install prometheus)");
        return;
    }

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $body;
    close $fh;

    my $out = `$promtool check metrics < $file 2>&1`;
    is($? >> 8, 0, "$name - promtool check metrics passes")
        or diag $out;
});

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", coze_http('web'))
        unless defined $block->http_config;
    $block->set_value("config", $server) unless defined $block->config;
    $block->set_value("request", "POST /t\n" . $block->scenario)
        if defined $block->scenario;
    $block->set_value("timeout", 20) unless defined $block->timeout;
    $block->set_value("no_error_log", "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: each counter moves by exactly what happened, in JSON and Prometheus text
--- scenario
{"steps": [
 {"mock": "reset"},
 {"label": "before", "get": "/status", "headers": {"Accept": "application/json"},
  "expect": {"status": 200, "header_re": {"Content-Type": "^application/json"},
             "json": {"logins_started": 0, "logins_completed": 0, "refreshes": 0,
                      "jwt_tokens_minted": 0, "jwt_tokens_reused": 0,
                      "sessions_rejected_tampered": 0, "unauthenticated": 0,
                      "calls.token.ok": 0, "in_flight": 0}}},
 {"label": "login", "get": "/app/page", "follow": true,
  "expect": {"status": 200, "jar": {"coze_session": {"present": true}}}},
 {"label": "forced refresh", "get": "/oauth/me", "method": "POST",
  "headers": {"Accept": "application/json"},
  "expect": {"status": 200, "requests": {"token:refresh_token:200": 1}}},
 {"label": "jwt mint", "get": "/svc/v3/chat", "headers": {"Accept": "application/json"},
  "expect": {"status": 200}},
 {"label": "jwt reuse", "get": "/svc/v3/chat", "headers": {"Accept": "application/json"},
  "expect": {"status": 200, "requests": {"token:urn:ietf:params:oauth:grant-type:jwt-bearer": 1}}},
 {"cookie": {"jar": "main", "name": "coze_session", "op": "flipbit", "pos": 40}},
 {"label": "tampered", "get": "/app/page", "headers": {"Accept": "application/json"},
  "expect": {"status": 401}},
 {"label": "after (JSON)", "get": "/status",
  "expect": {"status": 200,
             "json": {"logins_started": 1, "logins_completed": 1,
                      "login_failures_state": 0, "login_failures_exchange": 0,
                      "refreshes": 1, "refreshes_coalesced": 0,
                      "refresh_failures_refused": 0, "refresh_failures_transient": 0,
                      "jwt_tokens_minted": 1, "jwt_tokens_reused": 1, "jwt_tokens_failed": 0,
                      "sessions_rejected_tampered": 1, "sessions_rejected_unknown_key": 0,
                      "unauthenticated": 2,
                      "calls.token.ok": 1, "calls.userinfo.ok": 1, "calls.refresh.ok": 1,
                      "calls.jwt.ok": 1, "calls.token.error": 0, "calls.token.timeout": 0,
                      "calls.token.latency_buckets.+Inf": 1, "calls.jwt.latency_buckets.+Inf": 1,
                      "in_flight": 0}}},
 {"label": "after (Prometheus)", "get": "/status?format=prometheus",
  "expect": {"status": 200, "header_re": {"Content-Type": "^text/plain; version=0\\.0\\.4"},
             "body_re": "(?s)coze_auth_logins_total\\{result=\"started\"\\} 1\n.*coze_auth_logins_total\\{result=\"completed\"\\} 1\n.*coze_auth_refreshes_total\\{result=\"refreshed\"\\} 1\n.*coze_auth_jwt_tokens_total\\{result=\"minted\"\\} 1\n.*coze_auth_jwt_tokens_total\\{result=\"reused\"\\} 1\n.*coze_auth_sessions_rejected_total\\{reason=\"tampered\"\\} 1\n.*coze_auth_unauthenticated_total 2\n.*coze_auth_calls_total\\{endpoint=\"token\",outcome=\"ok\"\\} 1\n.*coze_auth_calls_total\\{endpoint=\"refresh\",outcome=\"ok\"\\} 1\n.*coze_auth_calls_total\\{endpoint=\"jwt\",outcome=\"ok\"\\} 1\n.*coze_auth_call_duration_seconds_count\\{endpoint=\"userinfo\"\\} 1\n"}},
 {"label": "Accept: text/plain", "get": "/status", "headers": {"Accept": "text/plain"},
  "expect": {"status": 200, "body_re": "^# HELP coze_auth_logins_total "}}
]}
--- response_body_like: ^PASS \d+ checks
--- error_code: 200



=== TEST 2: the Prometheus exposition passes promtool check metrics
--- request
GET /status?format=prometheus
--- promtool
--- response_body_like: coze_auth_call_duration_seconds_bucket\{endpoint="token",le="0\.005"\} 0
--- error_code: 200



=== TEST 3: the status endpoint answers only GET and HEAD
--- request
POST /status
--- error_code: 405
