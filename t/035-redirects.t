# Open redirects: every line of the shared payload list (834 attack strings
# replayed by mod_auth_openidc's own suite) is refused as a return path,
# at the logout endpoint, at the login start endpoint (through a whole
# login) and as the URI of a protected request; legitimate same-site
# paths are kept.
#
# The list is read raw from $COZE_PAYLOADS (the Makefile sets it), else
# ../shared/data/open-redirect-payloads.txt beside the checkout or beside
# the repository it was cloned from.  Each payload is sent percent-encoded as
# ?return_to=.  absolute_redirect is off so that Location is exactly what
# the module chose.
#
# The scenarios are generated here: the section "generate" names one.

use lib 't/lib';
use CozeTest;
use CozeConf;
use JSON::PP ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_root_location();

my $PayloadFile = $ENV{COZE_PAYLOADS}
    || shared_data_file('open-redirect-payloads.txt')
    || repo_root() . '/../shared/data/open-redirect-payloads.txt';

our @Payloads;
{
    open my $fh, '<:raw', $PayloadFile
        or die "cannot read the open-redirect payloads $PayloadFile: $!"
             . " (set COZE_PAYLOADS)\n";
    while (my $line = <$fh>) {
        $line =~ s/\n\z//;
        push @Payloads, $line;
    }
    close $fh;
    die "$PayloadFile: only " . scalar(@Payloads) . " payloads\n"
        if @Payloads < 834;
}

# same-site paths that must survive, as sent and as Location gives them
our @Legit = (
    '/',
    '/app',
    '/app/page?x=1&y=%2F',
    '/a/b/c/?q=a+b&r=%E4%B8%AD%E6%96%87',
    '/%E4%B8%AD%E6%96%87/page',
    '/path;matrix=1/x',
    '/x?next=/y',
    '/x#frag',
);

sub enc {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub re_quote {
    my $s = quotemeta shift;
    return "^$s\$";
}

my $Json = JSON::PP->new->canonical->ascii;

sub label {
    my ($i, $p) = @_;
    (my $l = $p) =~ s/([\x00-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
    return "payload " . ($i + 1) . ": $l";
}

# logout: every payload, then the legit paths
sub logout_steps {
    my @steps = ({ mock => 'reset' });
    for my $i (0 .. $#Payloads) {
        push @steps, {
            label => label($i, $Payloads[$i]),
            get => '/oauth/logout?return_to=' . enc($Payloads[$i]),
            jar => JSON::PP::false,
            expect => { status => 302, location_re => '^/goodbye$',
                        set_cookie => { coze_session => { deleted => 1 } } },
        };
    }
    for my $p (@Legit) {
        push @steps, {
            label => "legit $p",
            get => '/oauth/logout?return_to=' . enc($p),
            jar => JSON::PP::false,
            expect => { status => 302, location_re => re_quote($p) },
        };
    }
    return { steps => \@steps };
}

# a whole login started at the callback with ?return_to=...; each in its
# own browser, so that each exchanges its code
sub login_steps {
    my ($from, $to, $want_of) = @_;
    my @steps = ({ mock => 'reset' });
    for my $i ($from .. $to) {
        my ($p, $label, $want) = $want_of->($i);
        my $jar = "p$i";
        push @steps, {
            label => "$label: start",
            get => '/oauth/callback?return_to=' . enc($p),
            jar => $jar,
            expect => { status => 302,
                        location_re => '^${mock}/api/permission/oauth2/authorize\?' },
            save => { authz => 'location' },
        }, {
            label => "$label: Coze",
            get => '${authz}', jar => $jar,
            expect => { status => 302 },
            save => { cb => 'location' },
        }, {
            label => "$label: callback",
            get => '${cb}', jar => $jar,
            expect => { status => 302, location_re => re_quote($want),
                        set_cookie => { coze_session => { present => 1 } } },
        };
    }
    return { steps => \@steps };
}

# a protected request whose own URI is the payload (only those a browser
# can put on the request line as they are)
sub uri_steps {
    my @steps = ({ mock => 'reset' });
    for my $i (0 .. $#Payloads) {
        my $p = $Payloads[$i];
        next unless $p =~ m{^/[\x21-\x7e]*\z} && $p !~ /#/;
        my $jar = "u$i";
        if ($p =~ /%00/) {
            # nginx refuses an encoded NUL in the URI itself
            push @steps, {
                label => label($i, $p) . " (request URI)",
                get => $p, jar => $jar,
                expect => { status => 400, no_header => ['Location'] },
            };
            next;
        }
        push @steps, {
            label => label($i, $p) . " (request URI): start",
            get => $p, jar => $jar,
            expect => { status => 302,
                        location_re => '^${mock}/api/permission/oauth2/authorize\?' },
            save => { authz => 'location' },
        }, {
            label => label($i, $p) . " (request URI): Coze",
            get => '${authz}', jar => $jar,
            expect => { status => 302 },
            save => { cb => 'location' },
        }, {
            label => label($i, $p) . " (request URI): callback",
            get => '${cb}', jar => $jar,
            expect => { status => 302, location_re => '^/$',
                        set_cookie => { coze_session => { present => 1 } } },
        };
    }
    return { steps => \@steps };
}

our %Generate = (
    'logout' => \&logout_steps,
    'login 1' => sub {
        login_steps(0, 299, sub { ($Payloads[$_[0]], label($_[0], $Payloads[$_[0]]), '/') });
    },
    'login 2' => sub {
        login_steps(300, 599, sub { ($Payloads[$_[0]], label($_[0], $Payloads[$_[0]]), '/') });
    },
    'login 3' => sub {
        login_steps(600, $#Payloads, sub { ($Payloads[$_[0]], label($_[0], $Payloads[$_[0]]), '/') });
    },
    'login legit' => sub {
        login_steps(0, $#Legit, sub { ($Legit[$_[0]], "legit $Legit[$_[0]]", $Legit[$_[0]]) });
    },
    'uri' => \&uri_steps,
);

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", coze_http('web'))
        unless defined $block->http_config;
    $block->set_value("config", "    absolute_redirect off;\n"
                                . coze_browse_location() . <<'_EOC_')
    location = /oauth/callback {
        coze_auth_callback;
    }

    location = /oauth/logout {
        coze_auth_logout /goodbye;
    }

    location / {
        coze_auth on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__upstream/;
    }
_EOC_
        unless defined $block->config;
    if (defined $block->generate) {
        (my $g = $block->generate) =~ s/\s+\z//;
        my $gen = $Generate{$g} or die "no scenario generator \"$g\"\n";
        $block->set_value("request", "POST /t\n" . $Json->encode($gen->()));
    }
    scenario_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: logout: every payload is refused (Location is the configured default), legit paths are kept
--- generate: logout
--- error_log
coze auth: unsafe logout target ignored



=== TEST 2: login started at the callback, payloads 1-300: after the whole login the browser lands on "/"
--- generate: login 1



=== TEST 3: payloads 301-600
--- generate: login 2



=== TEST 4: payloads 601-834
--- generate: login 3



=== TEST 5: legit return paths survive a whole login
--- generate: login legit



=== TEST 6: a protected request whose URI is a payload: after the login the browser lands on "/"
--- generate: uri
