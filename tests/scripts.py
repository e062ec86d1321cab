"""The repository's scripts that are no package (``eval/*.py``, ``asterisk/check.py``), imported for their tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType


@contextmanager
def imported_script(path: Path, name: str) -> Iterator[ModuleType]:
    """The script at ``path`` run as the module ``name``, registered in ``sys.modules`` while the block runs (its
    dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]
