#!/usr/bin/perl
# Service for the exit-path scenario: prints a line, sleeps DELAY_MS (so the logger is surely
# running), records "exit <ns>" (CLOCK_MONOTONIC) in STAMPFILE and exits 0.
use strict;
use warnings;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC usleep);

my ($stamp, $delay) = @ARGV;
syswrite(STDOUT, "hello from the service\n");
usleep(($delay // 100) * 1000);
open(my $f, '>>', $stamp) or die "open $stamp: $!";
printf $f "exit %.0f\n", clock_gettime(CLOCK_MONOTONIC) * 1e9;
close $f;
POSIX::_exit(0);
