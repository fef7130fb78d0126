#!/bin/sh
# Prints every signal it receives, one per line ("got USR1"), to stdout or to $OUT.
# Exits 0 on TERM unless $IGNORE_TERM is set. Prints "ready <pid>" when its traps are in place.
if [ -n "$OUT" ]; then exec 4>>"$OUT"; else exec 4>&1; fi
for s in HUP:1 INT:2 QUIT:3 TRAP:5 ABRT:6 USR1:10 USR2:12 ALRM:14 STKFLT:16 CONT:18 URG:23 XCPU:24 XFSZ:25 \
         VTALRM:26 PROF:27 WINCH:28 IO:29 PWR:30 SYS:31; do
  trap "echo got ${s%:*} >&4" "${s#*:}"
done
if [ -n "$IGNORE_TERM" ]; then trap "echo got TERM >&4" TERM; else trap "echo got TERM >&4; exit 0" TERM; fi
echo "ready $$"
while :; do sleep 0.05; done
