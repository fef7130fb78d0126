#!/usr/bin/perl
# Log producer: producer.pl BYTES LINE_LEN STAMPFILE
# Writes BYTES bytes of LINE_LEN-byte lines (numbered, newline-terminated) to stdout in 1 MiB
# writes, after recording "start <ns>" (CLOCK_MONOTONIC) in STAMPFILE; records "end <ns>" when done.
use strict;
use warnings;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($bytes, $len, $stamp) = @ARGV;
die "usage: producer.pl BYTES LINE_LEN STAMPFILE\n" unless defined $stamp && $len >= 16;
sub stamp {
    open(my $f, '>>', $stamp) or die "open $stamp: $!";
    printf $f "%s %.0f\n", $_[0], clock_gettime(CLOCK_MONOTONIC) * 1e9;
    close $f;
}
my $per = int((1 << 20) / $len);
my $block = '';
$block .= sprintf("line %010d %s\n", $_, 'x' x ($len - 17)) for 1 .. $per;
stamp('start');
my $left = $bytes;
while ($left > 0) {
    my $chunk = $left < length($block) ? substr($block, 0, $left) : $block;
    my $off = 0;
    while ($off < length $chunk) {
        my $w = syswrite(STDOUT, $chunk, length($chunk) - $off, $off);
        die "write: $!" unless defined $w;
        $off += $w;
    }
    $left -= length $chunk;
}
stamp('end');
POSIX::_exit(0);
