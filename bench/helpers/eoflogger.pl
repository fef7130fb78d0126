#!/usr/bin/perl
# Logger for the exit-path scenario: reads stdin to EOF, records "eof <ns>" (CLOCK_MONOTONIC) in
# STAMPFILE and exits 0 at once.
use strict;
use warnings;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($stamp) = @ARGV;
1 while sysread(STDIN, my $buf, 1 << 20);
my $t = clock_gettime(CLOCK_MONOTONIC);
open(my $f, '>>', $stamp) or die "open $stamp: $!";
printf $f "eof %.0f\n", $t * 1e9;
close $f;
POSIX::_exit(0);
