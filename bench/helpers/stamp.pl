#!/usr/bin/perl
# stamp.pl FILE: records "start <ns>" (CLOCK_MONOTONIC) in FILE and exits 0. The startup scenario's
# service for an init that does not exit when its service does (pm2-runtime): the time to this
# stamp is when the service runs.
use strict;
use warnings;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($stamp) = @ARGV;
open(my $f, '>>', $stamp) or die "open $stamp: $!";
printf $f "start %.0f\n", clock_gettime(CLOCK_MONOTONIC) * 1e9;
close $f;
POSIX::_exit(0);
