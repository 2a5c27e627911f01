# Sourced by the benchmarks that report how much of a run each CPU spent idle (2-CPU VM: cpu0 and cpu1).
# cpu_stat                 : the cpu0 and cpu1 lines of /proc/stat now
# cpu_idle <before> <after>: one line per CPU, "cpuN <idle share of the interval, 0..1>" (idle + iowait over all time)
cpu_stat() { grep '^cpu[01] ' /proc/stat; }
cpu_idle() {
  python3 - "$1" "$2" <<'PY'
import sys
for a, b in zip(sys.argv[1].splitlines(), sys.argv[2].splitlines()):
    d = [int(y) - int(x) for x, y in zip(a.split()[1:9], b.split()[1:9])]
    if sum(d):
        print(a.split()[0], f"{(d[3] + d[4]) / sum(d):.3f}")
PY
}
