package Test::Nginx::Compat::Blocks;

# Parser for the Test::Base data format used by Test::Nginx::Socket test
# files (the part after __DATA__), written for the bundled compatible runner.
# Core Perl only.
#
#   === TEST 1: title            starts a block; its name is "TEST 1: title"
#   --- section [filter ...]     multi-line section; value runs to the next
#                                "--- " or "===" line
#   --- section [filter ...]: v  single-line section, value "v"
#
# Every section goes through the default filters "norm trim", then its own
# filters in order ("-name" drops a filter, "+name" appends one at the end,
# "name=arg" passes an argument).  A block containing the section ONLY is run
# alone, SKIP drops a block, LAST ends the list after that block -- as in
# Test::Base.

use strict;
use warnings;

use Carp qw(croak);
use MIME::Base64 ();
use Test::More ();

our @DefaultFilters = qw(norm trim);

my $BlockList;    # arrayref of Test::Nginx::Compat::Block, parsed once
my $Spec;         # the raw __DATA__ text

sub spec_string {
    my ($text) = @_;
    croak "spec_string: too late, the blocks were already parsed"
        if $BlockList;
    $Spec = $text;
}

sub _read_spec {
    return $Spec if defined $Spec;
    no strict 'refs';
    my $fh = \*{"main::DATA"};
    if (defined fileno($fh) || eval { !eof($fh) }) {
        local $/;
        $Spec = <$fh>;
    }
    $Spec = '' unless defined $Spec;
    return $Spec;
}

sub _make_block {
    my ($hunk) = @_;

    $hunk =~ s/\A===[ \t]*(.*)\s+//
        or croak "bad block: " . substr($hunk, 0, 80);
    my $name = $1;

    my @parts = split /^--- +\(?(\w+)\)? *(.*)?\n/m, $hunk;
    my $description = shift @parts;
    $description = '' unless defined $description;
    $description = $name unless $description =~ /\S/;
    $description =~ s/\s*\z//;

    my $block = Test::Nginx::Compat::Block->new;
    $block->{description} = [$description];
    $block->{name} = [$name];
    my (%map, @order);

    while (@parts) {
        my ($type, $filters, $value) = splice(@parts, 0, 3);
        croak "'$type' is a reserved name. Use something else.\n"
            if $type =~ /^_/
               || $type =~ /^(?:new|set_value|run_filters|is_filtered|AUTOLOAD|DESTROY|blocks_object|seq_num|original_values)$/;
        $value = '' unless defined $value;
        $filters = '' unless defined $filters;
        if ($filters =~ /:(\s|\z)/) {
            croak "Extra lines not allowed in '$type' section ($name)"
                if $value =~ /\S/;
            ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
            $value = '' unless defined $value;
            $value =~ s/^\s*(.*?)\s*$/$1/;
        }
        $map{$type} = $filters;
        push @order, $type;
        $block->{$type} = [$value];
    }

    $block->{_section_map} = \%map;
    $block->{_section_order} = \@order;
    return $block;
}

sub _block_list {
    return $BlockList if $BlockList;

    my $spec = _read_spec();
    my @hunks = ($spec =~ /^(===.*?(?=^===|\z))/msg);

    my @blocks;
    for my $hunk (@hunks) {
        my $block = _make_block($hunk);
        if (exists $block->{ONLY}) {
            Test::More::diag("I found ONLY: maybe you're debugging?");
            @blocks = ($block);
            last;
        }
        next if exists $block->{SKIP};
        push @blocks, $block;
        last if exists $block->{LAST};
    }

    my $seq = 1;
    $_->{seq_num} = $seq++ for @blocks;
    $BlockList = \@blocks;
    return $BlockList;
}

# blocks() / blocks('section'): in scalar context the count (filters not
# run), in list context the filtered block objects.
sub blocks {
    my ($section) = @_;
    my @blocks = @{ _block_list() };
    @blocks = grep { exists $_->{$section} } @blocks if defined $section && $section ne '';
    return scalar(@blocks) unless wantarray;
    for my $block (@blocks) {
        $block->run_filters unless $block->{_filtered};
    }
    return @blocks;
}

sub first_block {
    my @b = blocks();
    return $b[0];
}

# ---------------------------------------------------------------------------

package Test::Nginx::Compat::Block;

use strict;
use warnings;

our $AUTOLOAD;

sub new {
    my $class = shift;
    return bless {}, $class;
}

sub AUTOLOAD {
    my $self = shift;
    my $name = $AUTOLOAD;
    $name =~ s/.*:://;
    return if $name eq 'DESTROY';
    if (@_) {
        Carp::croak("Not allowed to set values for '$name'");
    }
    my @list = @{ $self->{$name} || [] };
    return wantarray ? @list : $list[0];
}

sub DESTROY { }

sub name        { my $s = shift; return wantarray ? @{ $s->{name} || [] } : $s->{name}[0] }
sub description { my $s = shift; return wantarray ? @{ $s->{description} || [] } : $s->{description}[0] }
sub seq_num     { $_[0]->{seq_num} }
sub is_filtered { $_[0]->{_filtered} }

sub original_values { $_[0]->{_original} ||= {} }

sub set_value {
    my ($self, $key, @values) = @_;
    $self->{$key} = [@values];
}

sub _get_filters {
    my ($self, $string) = @_;
    $string = '' unless defined $string;
    $string =~ s/^\s+|\s+$//g;
    my (@filters, @append);
    for my $f (@Test::Nginx::Compat::Blocks::DefaultFilters, split /\s+/, $string) {
        last unless length $f;
        if ($f =~ s/^-//) {
            @filters = grep { $_ ne $f } @filters;
        } elsif ($f =~ s/^\+//) {
            push @append, $f;
        } else {
            push @filters, $f;
        }
    }
    return (@filters, @append);
}

sub run_filters {
    my $self = shift;
    Carp::croak("Attempt to filter a block twice") if $self->{_filtered};
    for my $type (@{ $self->{_section_order} }) {
        my @value = @{ $self->{$type} || [] };
        $self->original_values->{$type} = $value[0];
        for my $filter ($self->_get_filters($self->{_section_map}{$type})) {
            my $arg;
            $arg = $1 if $filter =~ s/=(.*)$//;
            no strict 'refs';
            my $main_func = "main::$filter";
            if (defined &$main_func) {
                # user-defined filter in the test file, as Test::Base allows
                local $Test::Nginx::Compat::Filter::Argument = $arg;
                local $_ = (@value == 1 && !defined $value[0]) ? undef : join '', @value;
                my $old = $_;
                @value = &$main_func(@value);
                if (!@value
                    or @value == 1 && defined($value[0]) && $value[0] =~ /\A(\d+|)\z/)
                {
                    @value = ($_);
                }
            } else {
                my $code = Test::Nginx::Compat::Filter->can("f_$filter")
                    or die "Can't find a function or method for '$filter' filter "
                         . "(section '$type' of " . $self->name . ")\n";
                local $Test::Nginx::Compat::Filter::Argument = $arg;
                local $Test::Nginx::Compat::Filter::Current = [$self, $type];
                @value = $code->(@value);
            }
            $self->{$type} = [@value];
        }
    }
    $self->{_filtered} = 1;
}

# ---------------------------------------------------------------------------

package Test::Nginx::Compat::Filter;

use strict;
use warnings;

our $Argument;
our $Current;

sub _scalar {
    my $filter = shift;
    return if @_ == 1;
    Carp::croak("Input to the '$filter' filter must be a scalar, not a list");
}

sub f_norm {
    _scalar('norm', @_);
    my $text = shift;
    $text = '' unless defined $text;
    $text =~ s/\015\012/\n/g;
    $text =~ s/\r/\n/g;
    return $text;
}

sub f_trim {
    return map {
        my $v = $_;
        if (defined $v) {
            $v =~ s/\A([ \t]*\n)+//;
            $v =~ s/(?<=\n)\s*\z//g;
        }
        $v;
    } @_;
}

sub f_chomp { return map { my $v = $_; chomp $v if defined $v; $v } @_ }
sub f_chop  { return map { my $v = $_; chop $v if defined $v; $v } @_ }

sub f_unchomp { return map { my $v = $_; $v .= "\n" if defined $v; $v } @_ }

# The code runs in package Test::Base::Filter, where upstream's eval filter
# runs it too, so helpers exported there (see t/lib/CozeTest.pm) work with
# either runner.  Like upstream, a failing eval yields the error text as the
# value; we also warn so the cause is visible.
sub f_eval {
    _scalar('eval', @_);
    my $code = shift;
    my ($block, $type) = @{ $Current || [] };
    my $where = $block ? $block->name . " --- $type" : 'eval section';
    $where =~ s/"/'/g;
    my @ret = Test::Nginx::Compat::Filter::_do_eval($code, $where);
    if ($@) {
        my $err = $@;
        warn "WARNING: eval filter failed in $where: $err";
        return $err;
    }
    return @ret;
}

sub f_lines {
    _scalar('lines', @_);
    my $text = shift;
    return () unless defined $text && length $text;
    return ($text =~ /^(.*\n?)/gm);
}

sub f_array { return [@_] }

sub f_join {
    my $sep = defined $Argument ? $Argument : '';
    return join $sep, @_;
}

sub f_split {
    _scalar('split', @_);
    my $text = shift;
    my $re = defined $Argument ? qr/$Argument/ : qr/\s+/;
    return split $re, $text;
}

sub f_regexp {
    _scalar('regexp', @_);
    my $text = shift;
    my $flags = $Argument;
    if ($text =~ /\n.*?\n/s) {
        $flags = 'xism' unless defined $flags;
    } else {
        chomp $text;
    }
    $flags ||= '';
    my $re = eval "qr{$text}$flags";
    die $@ if $@;
    return $re;
}

sub f_escape {
    _scalar('escape', @_);
    my $text = shift;
    $text =~ s/(\\.)/eval "qq{$1}"/ge;
    return $text;
}

sub f_base64_decode { _scalar('base64_decode', @_); return MIME::Base64::decode_base64(shift) }
sub f_base64_encode { _scalar('base64_encode', @_); return MIME::Base64::encode_base64(shift) }

sub f_append  { my $s = defined $Argument ? $Argument : ''; return map { "$_$s" } @_ }
sub f_prepend { my $s = defined $Argument ? $Argument : ''; return map { "$s$_" } @_ }

sub f_read_file {
    _scalar('read_file', @_);
    my $file = shift;
    chomp $file;
    open my $fh, '<', $file or die "Can't open '$file' for input:\n$!";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub f_strict  { _scalar('strict', @_); return "use strict; use warnings;\n" . shift }

sub f_eval_all {
    _scalar('eval_all', @_);
    my $code = shift;
    my $out = '';
    my $err = '';
    my @ret;
    {
        local *STDOUT; local *STDERR;
        open STDOUT, '>', \$out;
        open STDERR, '>', \$err;
        @ret = Test::Nginx::Compat::Filter::_do_eval($code, 'eval_all');
    }
    return [@ret, $@, $out, $err];
}

package Test::Base::Filter;

# Evaluate section code in the package upstream uses, with strict and
# warnings on as under Test::Base.
sub Test::Nginx::Compat::Filter::_do_eval {
    my ($__code, $__where) = @_;
    return eval "package Test::Base::Filter; use strict; use warnings;\n#line 1 \"$__where\"\n$__code";
}

1;
