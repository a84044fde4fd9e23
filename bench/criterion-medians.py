#!/usr/bin/env python3
"""Prints the median (and its 95% interval) of every criterion benchmark whose
group matches the arguments, from target/criterion/*/*/new/estimates.json.

    python3 bench/criterion-medians.py cold_1000 cold_100000
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
target = pathlib.Path(__import__("os").environ.get("CARGO_TARGET_DIR", root / "target"))
groups = sys.argv[1:] or ["cold_1000", "cold_100000"]
for group in groups:
    for estimates in sorted((target / "criterion" / group).glob("*/new/estimates.json")):
        median = json.loads(estimates.read_text())["median"]
        ci = median["confidence_interval"]
        name = f"{group}/{estimates.parent.parent.name}"
        print(f"{name:32} {median['point_estimate'] / 1e6:8.3f} ms"
              f"  [{ci['lower_bound'] / 1e6:.3f} – {ci['upper_bound'] / 1e6:.3f}]")
