#!/usr/bin/perl
# Service for the signal scenario. Prints "R" once its handlers are installed, then for each SIGHUP
# "H <ns>" and for SIGTERM "T <ns>" (CLOCK_MONOTONIC, the clock of the bench's process.hrtime) and
# exits 0. The bench subtracts the moment it sent the signal to the init. SIGINT counts as the stop
# signal too: pm2-runtime stops its apps with SIGINT when it receives SIGTERM.
use strict;
use warnings;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

sub ns { sprintf('%.0f', clock_gettime(CLOCK_MONOTONIC) * 1e9) }
sub say_now { my $s = "$_[0]\n"; syswrite(STDOUT, $s) }

$SIG{HUP}  = sub { say_now('H ' . ns()) };
$SIG{TERM} = sub { say_now('T ' . ns()); POSIX::_exit(0) };
$SIG{INT}  = $SIG{TERM};
say_now('R');
POSIX::pause() while 1;
