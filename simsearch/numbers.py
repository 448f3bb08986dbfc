"""The one test for "a whole number" that every argument check uses.

Python's ``bool`` is an ``int`` (``True == 1``), so ``isinstance(value, int)`` lets ``k=True``
through as k=1; NumPy integers (``np.int64`` from an array) are not ``int`` but are whole numbers
a caller fairly passes. Written once so every surface accepts and refuses the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_whole_number(value: Any) -> bool:
    """True for ``int`` and NumPy integers, False for ``bool``, floats, strings and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
