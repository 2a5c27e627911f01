#!/usr/bin/env python3
"""Shortens perf report lines with .NET perf-map symbols to 'children% self% Type::Method' (reads stdin)."""
import re
import sys

for line in sys.stdin:
    m = re.match(r"\s*([\d.]+%)\s+([\d.]+%)?\s*(?:\S+\s+)?\[[.k]\]\s+(.*?)\s+-\s+-\s*$", line)
    if not m:
        continue
    children, self_, name = m.group(1), m.group(2) or "", m.group(3)
    if name.startswith("0x"):
        continue
    name = re.sub(r"\[(Optimized|OptimizedTier1|QuickJitted|Tier0|Tier1|Instrumented)[^\]]*\]$", "", name)
    name = re.sub(r"^(instance )?\S+ ", "", name) if "::" in name else name
    name = re.sub(r"^\[[^\]]+\] ", "", name)
    name = re.sub(r"\(.*\)$", "", name)
    name = re.sub(r"([A-Za-z0-9_.`+]+\.)+([A-Za-z0-9_`+<>|]+::)", r"\2", name)
    print(f"{children:>8} {self_:>7}  {name[:150]}")
