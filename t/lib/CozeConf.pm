package CozeConf;

# Standard nginx configuration fragments for the module's tests, so that
# each .t file says only what differs.  Use after CozeTest:
#
#   use lib 't/lib';
#   use CozeTest;
#   use CozeConf;
#   use Test::Nginx::Socket 'no_plan';
#
#   add_block_preprocessor(sub {
#       my $block = shift;
#       $block->set_value("http_config", coze_http('web'))
#           unless defined $block->http_config;
#   });
#
# coze_http($type, %opt) returns http-level directives for the mock's
# registered apps: 'web', 'pkce', 'jwt', 'token'.  Options:
#   key      => session key file name in t/data (default session.key)
#   extra    => more http-level directives
#   callback => the redirect URI (default /oauth/callback)
# coze_server() returns the usual locations: the callback, logout,
# userinfo, the protected upstream (the mock's /__upstream/ echo) and
# /t, which hands a scenario to the mock's browser driver.
#
# app_config_file($type) writes the console-style app config JSON of the
# mock app with the mock's real port and returns its path.

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);

our @EXPORT = qw(coze_http coze_server coze_browse_location app_config_file);

my %Apps = (
    web  => { id => '92769033034183945191209058691557.app.coze',
              secret => 'web_client_secret.txt' },
    pkce => { id => '48707558507181157864250974164384.app.coze' },
    jwt  => { id => '1173227358491',
              kid => 'hX9cEee08VWKBZt4u-PFMHvLdFM-8gMFMkJtzF276As',
              key => 'jwt_private.pem' },
    token => { file => 'pat_token.txt' },
);

sub coze_http {
    my ($type, %opt) = @_;
    my $a = $Apps{$type} or die "CozeConf: unknown app type $type\n";
    my $key = $opt{key} // 'session.key';
    my $cb = $opt{callback} // '/oauth/callback';
    my $conf = <<"_EOC_";
    coze_auth_client_type  $type;
    coze_auth_api_base     http://127.0.0.1:\$TEST_NGINX_MOCK_PORT;
    coze_auth_session_key  \$TEST_NGINX_DATA_DIR/$key;
    coze_auth_timeout      5s;
_EOC_
    $conf .= "    coze_auth_client_id    $a->{id};\n" if $a->{id};
    $conf .= "    coze_auth_redirect_uri $cb;\n"
        if $type eq 'web' || $type eq 'pkce';
    $conf .= "    coze_auth_client_secret_file \$TEST_NGINX_DATA_DIR/$a->{secret};\n"
        if $a->{secret};
    $conf .= "    coze_auth_jwt_private_key_file \$TEST_NGINX_DATA_DIR/$a->{key};\n"
           . "    coze_auth_jwt_public_key_id $a->{kid};\n"
        if $a->{key};
    $conf .= "    coze_auth_token_file \$TEST_NGINX_DATA_DIR/$a->{file};\n"
        if $a->{file};
    $conf .= $opt{extra} if $opt{extra};
    return $conf;
}

sub coze_browse_location {
    return <<'_EOC_';
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/browse;
        proxy_set_header X-Browse-Base http://127.0.0.1:$server_port;
        proxy_read_timeout 120s;
    }
_EOC_
}

sub coze_server {
    my (%opt) = @_;
    my $protected = $opt{protected} // '';
    return coze_browse_location() . <<"_EOC_";
    location = /oauth/callback {
        coze_auth_callback;
    }

    location = /oauth/logout {
        coze_auth_logout;
    }

    location = /oauth/me {
        coze_auth on;
        coze_auth_userinfo;
    }

    location / {
        coze_auth on;
$protected
        proxy_set_header X-Coze-User \$coze_user_id;
        proxy_set_header X-Coze-Result \$coze_auth_result;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_MOCK_PORT/__upstream/;
    }
_EOC_
}

sub app_config_file {
    my ($type) = @_;
    my $port = $ENV{TEST_NGINX_MOCK_PORT} or die "CozeConf: no mock\n";
    my $src = CozeTest::data_file("coze_oauth_config_$type.json");
    my $dir = ($ENV{TEST_NGINX_SERVROOT} || CozeTest::repo_root() . '/t/servroot')
              . '-data';
    make_path($dir);
    open my $in, '<', $src or die "CozeConf: $src: $!\n";
    local $/;
    my $json = <$in>;
    close $in;
    $json =~ s/__MOCK_PORT__/$port/g;
    my $dst = "$dir/coze_oauth_config_$type.json";
    open my $out, '>', $dst or die "CozeConf: $dst: $!\n";
    print $out $json;
    close $out;
    return $dst;
}

1;
