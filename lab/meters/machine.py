"""What machine a figure was measured on: CPU model, ISA level, int8 instructions, threads, torch.

CPUs differ by ~3× in speed and in kind: int8 convolutions run several times faster than
fp32 where the CPU has VNNI (AVX-512 VNNI or AVX-VNNI) or AMX, and barely faster on an
AVX2-only CPU. Every :class:`~lab.measure.Measurement` and benchmark output records
:func:`describe` so that a number can be read against the machine it came from.

Example:
    >>> sorted(describe())[:3]
    ['cpu_capability', 'cpu_model', 'int8_instructions']
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

__all__ = ["cpu_capability", "cpu_flags", "cpu_model", "describe", "int8_instructions"]

INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return {}
    first = text.split("\n\n", 1)[0]
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in first.splitlines())
    }


def cpu_model() -> str:
    """The CPU's marketing name, e.g. ``"AMD EPYC 7B13"`` (``platform.processor()`` elsewhere)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux), empty where unknown."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_capability() -> str:
    """The ISA level torch's kernels dispatch to here, e.g. ``"AVX2"`` or ``"AVX512"``."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # older torch
        return "unknown"


def int8_instructions() -> list[str]:
    """The int8 dot-product instructions present (VNNI, AMX); empty on AVX2-only CPUs."""
    return [flag for flag in INT8_FLAGS if flag in cpu_flags()]


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def describe() -> dict:
    """CPU model, ISA level, int8 instructions, logical CPUs, torch threads and version, load."""
    return {
        "cpu_model": cpu_model(),
        "cpu_capability": cpu_capability(),
        "int8_instructions": int8_instructions(),
        "logical_cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_1min": load_average(),
    }


def release_memory() -> int | None:
    """Collect garbage and hand freed heap pages back to the OS (glibc's ``malloc_trim``).

    A long-lived kernel (a dashboard) frees tensors after each evaluation, but glibc keeps the
    pages for reuse, so its resident memory only grows. Returns the bytes of resident memory
    released (None where ``malloc_trim`` does not exist, e.g. musl or macOS).
    """
    import ctypes
    import gc

    gc.collect()
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    before = _resident_bytes()
    trim(0)
    after = _resident_bytes()
    return None if before is None or after is None else max(0, before - after)


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
