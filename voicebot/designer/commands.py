"""The designer's commands behind ``voicebot validate | test | chat | graph`` (cli.py wraps these).

Each returns the process exit code: 0 fine, 1 problems found or tests failed, 2 could not run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from voicebot.dialog.loader import Bundle, FlowProblem, bundle_files, load_bundle, load_directory


def validate(path: Path, json_out: bool = False, strict: bool = False, words: Sequence[str] = ()) -> int:
    """Print ``file:line:col: severity: message`` for every problem; 1 on any error (or warning if strict).
    ``words``: the service's sensitive words (``pii.sensitive_words``), which no prompt may say."""
    from voicebot.designer.conversation_tests import load_tests

    bundles, problems = load_directory(path, words)
    if path.is_dir():
        tests, test_problems = load_tests(path)
        problems += test_problems
        for test in tests:
            if test.bundle not in bundles and test.bundle not in {
                f.name.removesuffix(".yaml") for f in bundle_files(path)
            }:
                problems.append(
                    FlowProblem(
                        test.file, test.line, 1, f"test {test.name!r}: unknown bundle {test.bundle!r}"
                    )
                )
    errors = [p for p in problems if p.severity == "error"]
    if json_out:
        print(
            json.dumps(
                {
                    "bundles": sorted(bundles),
                    "errors": len(errors),
                    "warnings": len(problems) - len(errors),
                    "problems": [_problem_dict(p) for p in problems],
                },
                indent=2,
            )
        )
    else:
        for problem in problems:
            print(problem)
        print(
            f"{len(bundles)} bundle(s) valid: {', '.join(sorted(bundles)) or '-'}; "
            f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)",
            file=sys.stderr,
        )
    return 1 if errors or (strict and problems) else 0


def _intent_cache() -> Path:
    """Where trained intent classifiers are cached (the service uses the same place)."""
    from voicebot.config import Settings

    return Settings().models_dir / "cache" / "intents"


def _problem_dict(p: FlowProblem) -> dict:
    return {"file": p.file, "line": p.line, "column": p.column, "message": p.message, "severity": p.severity}


def _bundle_for(flow: str, dialogs_dir: Path) -> Bundle | None:
    """A bundle from a file path or a bundle name in the dialogs directory; prints problems."""
    path = Path(flow)
    if not path.is_file():
        candidates = [f for f in bundle_files(dialogs_dir) if f.name.removesuffix(".yaml") == flow]
        if not candidates:
            bundles, _ = load_directory(dialogs_dir) if dialogs_dir.is_dir() else ({}, [])
            if flow in bundles:
                return bundles[flow]
            print(f"error: no flow file or bundle named {flow!r} (looked in {dialogs_dir})", file=sys.stderr)
            return None
        path = candidates[0]
    bundle, problems = load_bundle(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if bundle is None:
        print("error: the flow has errors (see above)", file=sys.stderr)
    return bundle


def graph(flow: str, fmt: str, out: Path | None, dialogs_dir: Path) -> int:
    """Write a Mermaid or SVG diagram of a bundle (the SVG is drawn here; no graphviz needed)."""
    from voicebot.designer.graph import to_mermaid, to_svg

    bundle = _bundle_for(flow, dialogs_dir)
    if bundle is None:
        return 2
    if fmt == "mermaid":
        text = to_mermaid(bundle)
    elif fmt == "svg":
        text = to_svg(bundle)
    else:
        print(f"error: unknown format {fmt!r} (mermaid or svg)", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _backend_spec(value: str):
    from voicebot.designer.conversation_tests import BackendSpec

    if value in ("none", "demo", "live"):
        return BackendSpec(value), None  # type: ignore[arg-type]
    if value.startswith(("http://", "https://")):
        return BackendSpec("live"), value
    raise ValueError(f"backend is none, demo, live or a URL, not {value!r}")


def chat(
    flow: str,
    dialogs_dir: Path,
    backend: str,
    caller_id: str,
    language: str | None,
    settings_backend_url: str | None,
) -> int:
    from voicebot.designer.chat import chat as run_chat
    from voicebot.designer.conversation_tests import real_nlu_factory

    bundle = _bundle_for(flow, dialogs_dir)
    if bundle is None:
        return 2
    try:
        spec, url = _backend_spec(backend)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("loading the NLU models...", file=sys.stderr)
    nlu = real_nlu_factory(_intent_cache())(bundle)
    asyncio.run(run_chat(bundle, nlu, spec, url or settings_backend_url, caller_id, language))
    return 0


def test(path: Path, flow: str | None, json_out: bool, verbose: bool, backend_url: str | None,
         match: str | None = None) -> int:
    """Run the YAML conversation tests with the real NLU; 1 when any fails."""
    from voicebot.designer.conversation_tests import (
        ConversationResult,
        TextDriver,
        format_results,
        load_tests,
        real_nlu_factory,
        results_json,
        run_test,
    )

    directory = path if path.is_dir() else path.parent
    bundles, problems = load_directory(directory)
    errors = [p for p in problems if p.severity == "error"]
    tests, test_problems = load_tests(path if path.name.endswith(".test.yaml") else directory, flow, match)
    for problem in errors + test_problems:
        print(problem, file=sys.stderr)
    if not tests:
        print(f"no conversation tests found under {directory / 'tests'}" + (f" for {flow}" if flow else "")
              + (f" named like {match!r}" if match else ""), file=sys.stderr)
        return 1 if (errors or test_problems) else 2
    missing = sorted({t.bundle for t in tests if t.bundle not in bundles})
    for name in missing:
        print(f"error: bundle {name!r} is missing or has errors; its tests fail", file=sys.stderr)
    make_nlu = real_nlu_factory(_intent_cache())

    async def run_all() -> list:
        results = []
        for test_case in tests:
            if test_case.bundle not in bundles:
                results.append(
                    ConversationResult(
                        test_case, False, [f"bundle {test_case.bundle!r} did not load"], [], 0.0
                    )
                )
                continue
            bundle = bundles[test_case.bundle]
            driver = TextDriver(bundle, make_nlu(bundle), backend_url=backend_url)
            results.append(await run_test(test_case, driver))
        return results

    results = asyncio.run(run_all())
    if json_out:
        print(json.dumps(results_json(results), indent=2, default=str))
    else:
        print(format_results(results, verbose))
    return 0 if all(r.passed for r in results) and not test_problems else 1
