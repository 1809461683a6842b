"""Importing a library late without changing the caller's process.

Some libraries change global state the first time they are imported: scikit-learn sets
``KMP_DUPLICATE_LIB_OK`` and ``KMP_INIT_AT_FORK`` in ``os.environ``, and importing
``sklearn.metrics`` draws from Python's ``random`` stream. The lab imports such libraries
lazily (``sklearn.metrics`` takes seconds), often inside :func:`lab.evaluate`, which must
leave the caller's RNG streams and environment as they were (``tests/test_global_state.py``).
:func:`import_kept` imports a module with Python's and NumPy's RNG states and the
environment put back afterwards; later calls return the module at once.

Example:
    >>> import random
    >>> state = random.getstate()
    >>> import_kept("json").__name__, random.getstate() == state
    ('json', True)
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import threading
from types import ModuleType

import numpy as np

__all__ = ["import_kept"]

_LOCK = threading.Lock()


def import_kept(name: str) -> ModuleType:
    """Module ``name``, imported (the first time) without changing ``random``'s or NumPy's
    global RNG state or ``os.environ``."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    with _LOCK:
        python_state, numpy_state = random.getstate(), np.random.get_state()
        environment = dict(os.environ)
        try:
            return importlib.import_module(name)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            for key in set(os.environ) - set(environment):
                del os.environ[key]
            for key, value in environment.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
