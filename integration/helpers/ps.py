"""Print "pid ppid state comm" for every process in this PID namespace (run via exec)."""

import os

for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open(f"/proc/{entry}/stat") as f:
            stat = f.read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
    print(entry, ppid, state, comm.replace(" ", "_"))
