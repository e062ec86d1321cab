"""Loading flow bundles from ``dialogs/``: YAML with line numbers, validation, atomic hot reload.

Every ``*.yaml`` file directly in the directory is one bundle (``*.test.yaml`` files and
sub-directories are not). A bundle is parsed (PyYAML's composer keeps the line and column of every
node), checked against the pydantic models in ``schema.py`` and by ``validate.py``, and compiled
into a :class:`Bundle` (``bundle.py``) the engine runs. :class:`FlowRegistry` holds the bundles of a
directory and swaps in a new set only when every file is valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from voicebot.dialog.bundle import Bundle, FlowProblem, Path_, SourceMap
from voicebot.dialog.schema import STEP_KINDS, BundleSpec, step_kind
from voicebot.dialog.validate import check_bundle

log = logging.getLogger(__name__)


class FlowLoadError(Exception):
    """Loading failed; ``problems`` lists every problem found (errors and warnings)."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in flows:\n" + "\n".join(str(p) for p in errors))


# ------------------------------------------------------------------------------------------------
# YAML with positions
# ------------------------------------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[FlowProblem]]:
    """Parse one YAML document keeping positions. Duplicate keys are reported (PyYAML keeps the last)."""
    problems: list[FlowProblem] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, SourceMap({}, {}), [FlowProblem(file, line, col, f"YAML syntax: {problem}")]
    values: dict[Path_, tuple[int, int]] = {}
    keys: dict[Path_, tuple[int, int]] = {}
    if node is not None:
        _walk(node, data, (), values, keys, problems, file)
    return data, SourceMap(values, keys), problems


def _walk(
    node: yaml.Node, data: Any, path: Path_, values: dict, keys: dict, problems: list, file: str
) -> None:
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            raw = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if raw is None:
                continue
            key = raw if raw in data else next((k for k in data if str(k) == raw), raw)
            pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if raw in seen:
                problems.append(FlowProblem(file, *pos, f"duplicate key {raw!r} (only the last one counts)"))
            seen.add(raw)
            keys[path + (key,)] = pos
            if key in data:
                _walk(value_node, data[key], path + (key,), values, keys, problems, file)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for i, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            _walk(item_node, item, path + (i,), values, keys, problems, file)


def load_bundle(file: Path, words: Sequence[str] = ()) -> tuple[Bundle | None, list[FlowProblem]]:
    """Parse, check and compile one flow file. The bundle is None when there is any error. ``words``: the
    service's sensitive words (``pii.sensitive_words``), which no prompt may say."""
    name = str(file)
    source = file.read_bytes()
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [FlowProblem(name, 1, 1, f"not UTF-8: {exc}")]
    data, smap, problems = parse_yaml(text, name)
    if data is None and not problems:
        problems.append(FlowProblem(name, 1, 1, "empty flow file"))
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [FlowProblem(name, 1, 1, "a flow file is a mapping (name, intents, flows, ...)")]
    problems += _unknown_steps(data, smap, name)
    try:
        spec = BundleSpec.model_validate(data)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, data, smap, name)
        # check the rest too: with each broken step replaced by a placeholder, the meaning checks still run
        repaired = _without_broken_steps(data, exc)
        try:
            spec = BundleSpec.model_validate(repaired)
        except ValidationError:
            return None, _sorted(problems)
        problems += check_bundle(Bundle(spec, file, source, smap), words)
        return None, _sorted(problems)
    bundle = Bundle(spec, file, source, smap)
    problems += check_bundle(bundle, words)
    if any(p.severity == "error" for p in problems):
        return None, _sorted(problems)
    return bundle, _sorted(problems)


def _without_broken_steps(data: dict, exc: ValidationError) -> dict:
    """A copy of the data where every step with a shape error is an empty ``say`` keeping its id."""
    import copy

    repaired = copy.deepcopy(data)
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) >= 4 and loc[0] == "flows" and loc[2] == "steps" and isinstance(loc[3], int):
            try:
                steps = repaired["flows"][loc[1]]["steps"]
                old = steps[loc[3]]
            except (KeyError, IndexError, TypeError):
                continue
            step_id = old.get("id") if isinstance(old, dict) and isinstance(old.get("id"), str) else None
            steps[loc[3]] = {"say": "", **({"id": step_id} if step_id else {})}
    return repaired


def _sorted(problems: list[FlowProblem]) -> list[FlowProblem]:
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.column))


def _unknown_steps(data: dict, smap: SourceMap, file: str) -> list[FlowProblem]:
    problems = []
    flows = data.get("flows")
    for flow_name, flow in flows.items() if isinstance(flows, dict) else ():
        steps = flow.get("steps") if isinstance(flow, dict) else None
        for i, step in enumerate(steps if isinstance(steps, list) else ()):
            if isinstance(step, dict) and step_kind(step) is None:
                keys = ", ".join(str(k) for k in step) or "nothing"
                line, col = smap.locate(("flows", flow_name, "steps", i))
                problems.append(
                    FlowProblem(
                        file,
                        line,
                        col,
                        f"unknown step in flow {flow_name!r} (has {keys}); "
                        f"a step needs one of {', '.join(STEP_KINDS)}",
                    )
                )
    return problems


def _pydantic_problems(exc: ValidationError, data: Any, smap: SourceMap, file: str) -> list[FlowProblem]:
    problems = []
    for err in exc.errors():
        if err["type"] == "unknown_step":
            continue  # reported by _unknown_steps with the keys found
        path, rest = _data_path(err["loc"], data)
        where = ".".join(str(p) for p in path)
        if err["type"] == "missing":
            message = f"{where}: missing key {rest[-1]!r}" if rest else f"{where}: missing value"
            line, col = smap.locate(path)
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r} in {'.'.join(str(p) for p in path[:-1]) or 'the file'}"
            line, col = smap.locate(path, key=True)
        else:
            msg = err["msg"].removeprefix("Value error, ")
            message = f"{where}: {msg}"
            line, col = smap.locate(path)
        problems.append(FlowProblem(file, line, col, message))
    # a union (text = string or per-language mapping) reports once per member: keep one per place
    seen: set[tuple[int, int]] = set()
    unique = []
    for p in problems:
        if (p.line, p.column) not in seen:
            seen.add((p.line, p.column))
            unique.append(p)
    return unique


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path_, Path_]:
    """Map a pydantic error location onto the YAML data path, skipping union tags; returns (path, rest)."""
    path: list[Any] = []
    current = data
    loc = list(loc)
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(current, dict) and part in current:
            if part in STEP_KINDS and isinstance(current.get(part), str) and i + 1 < len(loc):
                i += 1  # "ask" as the union tag, followed by the field name
                continue
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and part == "if_" and "if" in current:
            path.append("if")
            current = current["if"]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(part, str) and (
            part in STEP_KINDS
            or not isinstance(current, dict)
            or "[" in part
            or part in ("str", "bool", "int")
        ):
            pass  # a union member's tag
        else:
            return tuple(path), tuple(loc[i:])
        i += 1
    return tuple(path), ()


def bundle_files(directory: Path) -> list[Path]:
    """The flow files of a directory (``*.yaml``, not ``*.test.yaml``), or the one file given."""
    if directory.is_file():
        return [directory]
    return sorted(p for p in directory.glob("*.yaml") if not p.name.endswith(".test.yaml"))


def load_directory(directory: Path, words: Sequence[str] = ()) -> tuple[dict[str, Bundle], list[FlowProblem]]:
    """Every bundle of a directory, and every problem found (bundles with errors are left out)."""
    bundles: dict[str, Bundle] = {}
    problems: list[FlowProblem] = []
    files = bundle_files(directory)
    if not files:
        problems.append(FlowProblem(str(directory), 1, 1, "no flow files (*.yaml) found"))
    for file in files:
        bundle, found = load_bundle(file, words)
        problems += found
        if bundle is None:
            continue
        if bundle.name in bundles:
            problems.append(
                FlowProblem(
                    str(file),
                    1,
                    1,
                    f"bundle name {bundle.name!r} is also used by " f"{bundles[bundle.name].file}",
                )
            )
            continue
        bundles[bundle.name] = bundle
    return bundles, problems


class FlowRegistry:
    """The bundles of one directory. Reloads swap the whole set atomically, and only when all are valid."""

    def __init__(self, directory: Path, bundles: dict[str, Bundle], words: Sequence[str] = ()) -> None:
        self.directory = directory
        self.words = tuple(words)  # the service's sensitive words, checked at every reload too
        self._bundles = bundles
        self._signature = _signature(directory)

    @classmethod
    def load(cls, directory: Path, words: Sequence[str] = ()) -> FlowRegistry:
        bundles, problems = load_directory(directory, words)
        if any(p.severity == "error" for p in problems):
            raise FlowLoadError(problems)
        for p in problems:
            log.warning("%s", p)
        return cls(directory, bundles, words)

    def names(self) -> list[str]:
        return sorted(self._bundles)

    def get(self, name: str) -> Bundle:
        return self._bundles[name]

    def reload(self, required: Collection[str] = ()) -> list[FlowProblem]:
        """Re-read the directory. With any error, or without one of the ``required`` flows (the default flow,
        the flows routes point at), the running bundles stay; returns every problem."""
        signature = _signature(self.directory)
        bundles, problems = load_directory(self.directory, self.words)
        self._signature = signature
        problems += [FlowProblem(str(self.directory), 1, 1, f"flow {name!r} is gone, but calls are routed to it "
                                 "(the default flow or a route): removing it is rejected")
                     for name in sorted(set(required) - set(bundles))]
        if any(p.severity == "error" for p in problems):
            return problems
        self._bundles = bundles  # one reference swap: a call in progress keeps the Bundle it holds
        return problems

    async def watch(
        self, interval_s: float = 1.0, on_change: Callable[[list[FlowProblem]], None] | None = None,
        required: Collection[str] = (),
    ) -> None:
        """Poll the files' modification times; reload when they change. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            signature = await asyncio.to_thread(_signature, self.directory)
            if signature == self._signature:
                continue
            problems = await asyncio.to_thread(self.reload, required)
            if on_change is not None:
                on_change(problems)


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for file in bundle_files(directory):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        out.append((file.name, st.st_mtime_ns, st.st_size))
    return tuple(out)
