#!/usr/bin/perl
# Service for the reaping scenario: orphans.pl N TRIGGER ALIVE READY
#
# Forks an intermediate process that forks N children and exits, so that the N children become
# orphans, reparented to the init. Every child
#   - holds the write end of the ALIVE fifo: the kernel closes it when the child exits, so the
#     bench reads EOF on ALIVE at the moment the last child has exited;
#   - blocks reading the TRIGGER fifo, which the bench holds open read-write; when the bench closes
#     it, every child reads EOF at once and exits (no race: a child that reaches its read late
#     gets EOF at once).
# The service itself stays (sleeping), so that only orphans exit.
use strict;
use warnings;
use POSIX ();

my ($n, $trigger, $alive, $ready) = @ARGV;
die "usage: orphans.pl N TRIGGER ALIVE READY\n" unless defined $ready;

my $mid = fork() // die "fork: $!";
if ($mid == 0) {
    open(my $a, '>', $alive) or die "open $alive: $!";      # the bench holds the read end
    open(my $t, '<', $trigger) or die "open $trigger: $!";  # the bench holds it read-write
    for (1 .. $n) {
        my $p = fork();
        die "fork: $!" unless defined $p;
        if ($p == 0) {
            sysread($t, my $x, 1);
            POSIX::_exit(0);
        }
    }
    open(my $r, '>', $ready) or die "open $ready: $!";
    close $r;
    POSIX::_exit(0);
}
waitpid($mid, 0);
$SIG{TERM} = sub { POSIX::_exit(0) };
sleep 3600 while 1;
