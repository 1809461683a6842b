"""How far to trust the device estimates: leave-one-out on every published point.

    python benchmarks/devices.py --json

For each catalog device and precision, each published latency (and energy, where published)
is estimated from a fit to the device's *other* points (:func:`lab.devices.leave_one_out`);
the JSON lists every point with its estimate and relative error (estimated / published − 1),
and the median and worst |error| per device and precision. ``this-machine`` is timed here
(torch fp32, batch 1) and gets the same treatment. The fitted effective rates (million MACs
per second per operation kind) are printed beside.
"""

from __future__ import annotations

import argparse
import json

from lab import devices, machine


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    args = parser.parse_args()
    del args
    points, summary = [], []
    for name in devices.names():
        device = devices.get(name)
        table = devices.leave_one_out(name)
        for row in table.to_dict("records"):
            points.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})
        for precision, group in table.groupby("precision"):
            fit = devices.fit(name, precision)
            entry = {
                "device": name,
                "precision": precision,
                "points": len(group),
                "median_abs_error": round(float(group["error"].abs().median()), 4),
                "worst_abs_error": round(float(group["error"].abs().max()), 4),
                "fitted_kinds": list(fit.fitted_kinds),
                "mmacs_per_second": {
                    k: round(v / 1e6, 2) for k, v in fit.macs_per_second().items()
                },
                "source": "measured here" if device.measured else ", ".join(device.sources),
            }
            if "energy_error" in group and group["energy_error"].notna().any():
                energy = group["energy_error"].dropna().abs()
                entry["energy_median_abs_error"] = round(float(energy.median()), 4)
                entry["energy_worst_abs_error"] = round(float(energy.max()), 4)
            summary.append(entry)
    print(
        json.dumps(
            {
                "machine": machine.describe(),
                "method": (
                    "latency = sum over kinds (conv, depthwise, linear) of MACs x seconds per "
                    "MAC, fitted by non-negative least squares on relative error; energy = "
                    "latency x median published power; each point estimated from the others"
                ),
                "summary": summary,
                "points": points,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
