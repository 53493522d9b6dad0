# SPDX-License-Identifier: MIT
# tests/real: a deterministic Perl workload (hashes in sorted order, regular
# expressions, sprintf, pack, sort, closures, recursion, eval/die, local,
# in-memory files, tr, List::Util, Data::Dumper, POSIX, sprintf of floats);
# one line to stderr; exits 3.
use strict;
use warnings;
use List::Util qw(sum max min first reduce shuffle);
use Data::Dumper;
use POSIX qw(floor ceil fmod strtol);

$Data::Dumper::Sortkeys = 1;
$Data::Dumper::Indent = 1;

my @words = qw(the quick brown fox jumps over the lazy dog);
my %count;
$count{$_}++ for map { lc } (@words) x 7;
print join(" ", map { "$_=$count{$_}" } sort keys %count), "\n";

# regular expressions
my $text = "alpha=1; beta=22; gamma=333; delta=4444";
my %kv = $text =~ /(\w+)=(\d+)/g;
print join(",", map { "$_:$kv{$_}" } sort { $kv{$a} <=> $kv{$b} } keys %kv), "\n";
(my $t2 = $text) =~ s/(\d+)/$1 * 2/ge;
print "$t2\n";
if ("2026-04-19" =~ /^(?<y>\d{4})-(?<m>\d\d)-(?<d>\d\d)$/) { print "date $+{y} $+{m} $+{d}\n" }
my @split = split /\s*;\s*/, $text;
print scalar(@split), " parts, last $split[-1]\n";
(my $tr = "Hello World") =~ tr/a-zA-Z/n-za-mN-ZA-M/;
print "rot13 $tr\n";

# numbers and formats
printf "%5d|%-6s|%.4f|%e|%x|%o|%b|%s\n", 42, "ab", atan2(1, 1) * 4, 12345.678, 255, 8, 5, 1e21;
print "int ", int(-7 / 2), " mod ", -7 % 3, " pow ", 2**40, " floor ", floor(-3.5), " ceil ", ceil(3.2), "\n";
print "fmod ", fmod(7, 3), " strtol ", (strtol("ff", 16))[0], "\n";
my $big = 1;
$big *= $_ for 1 .. 20;
print "fact20 $big\n";

# pack and unpack
my $bin = pack("NnC a4 Z* w", 0xdeadbeef, 513, 7, "abcd", "zstr", 300);
print length($bin), " ", join(",", unpack("NnC a4 Z* w", $bin)), "\n";
print unpack("H*", pack("s< l> q", -2, 65536, -1)), "\n";

# sorting, List::Util
my @n = map { ($_ * 7919) % 1009 } 1 .. 300;
my @s = sort { $a <=> $b } @n;
print "sort $s[0] $s[150] $s[-1] sum ", sum(@n), " max ", max(@n), " min ", min(@n), "\n";
print "first ", first { $_ > 1000 } @n;
print " reduce ", reduce { $a * 3 + $b } 1 .. 10;
print "\n";

# closures, recursion, local
sub make_counter { my $c = shift; return sub { return $c++ } }
my $ctr = make_counter(5);
$ctr->() for 1 .. 3;
sub fib { my $n = shift; return $n < 2 ? $n : fib($n - 1) + fib($n - 2) }
our $depth = 0;
sub nest { local $depth = $depth + 1; return $_[0] ? nest($_[0] - 1) : $depth }
print "closure ", $ctr->(), " fib ", fib(18), " nest ", nest(10), "\n";

# eval and die with objects
my $r = eval { die { code => 42 } };
print "die ", $@->{code}, "\n";
eval { my $x = 1 / 0 };
print "div ", ($@ =~ /^(Illegal division by zero)/)[0], "\n";
eval { die "plain\n" };
print "plain $@";

# data structures and Data::Dumper
my $data = { list => [ 1 .. 5 ], nested => { a => [ 'x', 'y' ], b => { c => 3 } }, str => "q'uote" };
print Dumper($data);
my @aoh = map { { id => $_, sq => $_ * $_ } } 1 .. 5;
print join(" ", map { "$_->{id}:$_->{sq}" } grep { $_->{sq} % 2 } @aoh), "\n";

# in-memory files, sprintf, join
my $buf = "";
open(my $fh, ">", \$buf) or die;
printf $fh "%03d\n", $_ for 1 .. 10;
close $fh;
open($fh, "<", \$buf) or die;
my @lines = <$fh>;
close $fh;
chomp @lines;
print "lines ", scalar(@lines), " ", join("+", @lines[0, -1]), "\n";

# strings
my $str = "The Quick Brown Fox";
print lc($str), "|", uc($str), "|", ucfirst(lc("hELLO")), "|", reverse("abc") . "", "|",
  index($str, "Brown"), "|", substr($str, 4, 5), "|", sprintf("%s", join("-", ("ab") x 3)), "\n";
substr($str, 0, 3, "A");
print "$str ", length($str), " ", ord("A"), " ", chr(97), " ", "abc" x 2, " ", "b" lt "a" ? 1 : 0, "\n";
my @sorted = sort { length($a) <=> length($b) or $a cmp $b } qw(pear fig apple kiwi banana date);
print "@sorted\n";
my %h = map { $_ => length } @sorted;
while (my ($k, $v) = each %h) { $h{$k} = $v * 2 }
print join(",", map { "$_=$h{$_}" } sort keys %h), "\n";
print STDERR "perl workload: a line on stderr\n";
print "END\n";
exit 3;
