"""Shared fixtures: a throw-away result store, small models, the trained zoo when present, and
a fresh energy tracker."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("LAB_QUICK", "1")


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own SQLite store so cached results never leak between tests."""
    import lab.store

    monkeypatch.setattr(lab.store, "_DEFAULT", lab.store.ResultStore(tmp_path / "results.sqlite"))
    yield


@pytest.fixture
def fresh_energy(monkeypatch):
    """A tracker that has not started yet and empty codecarbon caches, restored afterwards."""
    from lab import energy

    monkeypatch.setattr(energy, "_TRACKER", energy._Tracker())
    energy._energy_mix.cache_clear()
    energy._carbon_intensity.cache_clear()
    yield
    energy._energy_mix.cache_clear()
    energy._carbon_intensity.cache_clear()


@pytest.fixture(scope="session")
def trained_cnn():
    """The shipped default cnn (skips if its checkpoint is not there yet)."""
    from lab import zoo

    try:
        return zoo.load("cnn")
    except zoo.CheckpointError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def tiny_model():
    """A small conv net with global pooling, seeded."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 10),
    )
