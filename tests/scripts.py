"""The repository's scripts that are no package (``eval/*.py``, ``asterisk/check.py``), imported for their tests."""

from __future__ import annotations

import importlib.util
import json
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


def printed_report(path: Path, name: str, argv: list[str], capsys) -> dict:
    """The JSON report the script at ``path`` prints when run with ``argv`` and ``--json`` (pytest's
    ``capsys`` captures it)."""
    with imported_script(path, name) as script:
        assert script.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)
