"""Meters: what the lab measures with — energy and CO₂ (codecarbon), the machine, FLOPs,
statistics (intervals, paired tests), latency timing.

Layer 1 (the bottom): imports nothing from ``lab`` but :mod:`lab.cancellation` and other meters.
"""
