#!/bin/sh
# The `make demo` story, run as the child of pyinit (PID 1 of a new PID namespace).
echo "demo: I am PID $$; my parent, PID $PPID, is: $(tr '\0' ' ' </proc/1/cmdline)"
echo "demo: making an orphan: a subshell starts 'sleep 0.3' in the background and exits at once"
( sleep 0.3 & )
sleep 0.6
echo "demo: the orphan has exited; zombies in this namespace now:"
zombies=$(ps -eo pid=,stat=,comm= | awk '$2 ~ /^Z/')
echo "${zombies:-  (none: pyinit reaped it)}"
trap 'echo "demo: received SIGUSR1 (sent to PID 1, forwarded by pyinit)"; got=1' USR1
echo "demo: sending SIGUSR1 to PID 1 (pyinit)"
kill -USR1 1
sleep 5 &
wait $!
kill "$!" 2>/dev/null
[ "${got:-0}" = 1 ] && echo "demo: done, exiting with status 0" && exit 0
echo "demo: the signal never arrived" && exit 1
