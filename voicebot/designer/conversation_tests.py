"""Conversation tests: YAML files of caller turns and what the bot should do (format: docs/flows.md).

The runner is split so the same tests can drive different paths: :func:`run_test` feeds turns to a
:class:`ConversationDriver` and compares the :class:`TurnOutcome` it reports with the expectations.
:class:`TextDriver` drives the dialog engine directly with typed text through the NLU; an audio
driver (TTS -> AudioSocket -> the real call pipeline) implements the same three methods. Outcome
fields a driver cannot observe are ``None`` and their expectations are skipped.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from voicebot.call.handoff import route
from voicebot.call.routing import plan_from_spec
from voicebot.dialog.actions import ActionRegistry, ActionRunner, default_registry
from voicebot.dialog.engine import DialogEngine, DialogState
from voicebot.dialog.loader import Bundle, FlowProblem, parse_yaml
from voicebot.dialog.sensitive import MASK
from voicebot.engines import LanguageUnderstanding
from voicebot.types import (
    BotAction,
    CallStart,
    DigitsInput,
    EndCall,
    Expectation,
    Handoff,
    Listen,
    NoInput,
    Say,
    Understanding,
)

_UNSET: Any = object()
TurnKind = Literal["start", "caller", "dtmf", "silence"]


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """What a test's ``call`` steps reach: nothing, the demo backend, canned answers, or a failure."""

    mode: Literal["none", "demo", "fixtures", "error", "live"] = "none"
    fixtures: Mapping[str, tuple[int, Any]] = field(default_factory=dict)  # "GET /path" -> (status, json)


@dataclass(frozen=True, slots=True)
class TurnExpect:
    intent: Any = _UNSET  # str, None (out of scope) or unset
    slots: Mapping[str, Any] = field(default_factory=dict)
    bot_says: tuple[str, ...] = ()
    bot_not_says: tuple[str, ...] = ()
    handoff: Any = None  # None: not checked; False: no handoff; True or a dict of fields
    ends: bool | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    kind: TurnKind
    value: str
    expect: TurnExpect
    line: int = 0


@dataclass(frozen=True, slots=True)
class ConversationTest:
    name: str
    bundle: str
    file: str = ""
    line: int = 0
    caller_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    backend: BackendSpec = BackendSpec()
    turns: tuple[ConversationTurn, ...] = ()
    # Registered flow functions answered by the test (``functions:``): name -> the dict it returns, or
    # ``{error: text}`` (it raises, as a function whose service is down)
    functions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What the bot did in one turn, as far as the driver can see (None: not observable)."""

    bot_says: tuple[str, ...]
    handoff: Handoff | None = None
    ended: bool = False
    intent: Any = _UNSET  # the NLU's intent for the caller's utterance, when observable
    confidence: float | None = None
    slots: Mapping[str, Any] | None = None
    state: str | None = None
    decisions: tuple[str, ...] = ()


class ConversationDriver(Protocol):
    """Runs one conversation turn by turn (text through the engine, or audio through a real call)."""

    async def begin(self, test: ConversationTest) -> TurnOutcome:
        """Answer the call; returns what the bot did first (the greeting)."""
        ...

    async def turn(self, turn: ConversationTurn) -> TurnOutcome:
        """Play one caller turn (text, DTMF or silence); returns what the bot did in answer."""
        ...

    async def end(self) -> None:
        """Hang up and free what the conversation used."""
        ...


@dataclass(slots=True)
class ConversationResult:
    test: ConversationTest
    passed: bool
    failures: list[str]
    transcript: list[tuple[str, str]]
    seconds: float


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def find_test_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    return sorted((directory / "tests").glob("*.test.yaml")) + sorted(directory.glob("*.test.yaml"))


def load_tests(
    directory: Path, bundle: str | None = None, match: str | None = None
) -> tuple[list[ConversationTest], list[FlowProblem]]:
    """Every conversation test under ``directory/tests`` (optionally only one bundle's, only those whose name
    has ``match`` in it, any case), and problems."""
    tests: list[ConversationTest] = []
    problems: list[FlowProblem] = []
    for file in find_test_files(directory):
        found, file_problems = _load_file(file)
        problems += file_problems
        tests += [t for t in found if (bundle is None or t.bundle == bundle)
                  and (match is None or match.casefold() in t.name.casefold())]
    return tests, problems


def _load_file(file: Path) -> tuple[list[ConversationTest], list[FlowProblem]]:
    name = str(file)
    data, smap, problems = parse_yaml(file.read_text(encoding="utf-8"), name)
    if problems:
        return [], problems
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return [], [FlowProblem(name, 1, 1, "a test file has 'bundle' and a list of 'tests'")]
    bundle = str(data.get("bundle") or file.name.removesuffix(".test.yaml"))

    def problem(path: tuple[Any, ...], message: str) -> None:
        problems.append(FlowProblem(name, *smap.locate(path), message))

    default_backend = _backend(data.get("backend"), ("backend",), problem)
    default_functions = _functions(data.get("functions"), ("functions",), problem)
    tests = []
    for i, raw in enumerate(data["tests"]):
        path: tuple[Any, ...] = ("tests", i)
        if not isinstance(raw, dict) or not isinstance(raw.get("turns"), list):
            problem(path, "a test needs 'name' and a list of 'turns'")
            continue
        turns = []
        for j, raw_turn in enumerate(raw["turns"]):
            turn = _turn(raw_turn, path + ("turns", j), problem, smap.locate(path + ("turns", j))[0])
            if turn is not None:
                turns.append(turn)
        backend = (
            _backend(raw["backend"], path + ("backend",), problem) if "backend" in raw else default_backend
        )
        tests.append(
            ConversationTest(
                name=str(raw.get("name") or f"test {i + 1}"),
                bundle=str(raw.get("bundle") or bundle),
                file=name,
                line=smap.locate(path)[0],
                caller_id=str(raw.get("caller_id") or ""),
                variables={str(k): str(v) for k, v in (raw.get("variables") or {}).items()},
                backend=backend,
                turns=tuple(turns),
                functions={**default_functions, **_functions(raw.get("functions"), path + ("functions",), problem)},
            )
        )
    return tests, problems


def _backend(raw: Any, path: tuple[Any, ...], problem: Callable[[tuple[Any, ...], str], None]) -> BackendSpec:
    if raw is None or raw == "none":
        return BackendSpec("none")
    if raw == "demo":
        return BackendSpec("demo")
    if raw == "live":
        return BackendSpec("live")
    if isinstance(raw, dict) and raw.get("error"):
        return BackendSpec("error")
    if isinstance(raw, dict) and isinstance(raw.get("fixtures"), dict):
        fixtures = {}
        for key, answer in raw["fixtures"].items():
            method, _, route = str(key).partition(" ")
            if method not in ("GET", "POST") or not route.startswith("/") or not isinstance(answer, dict):
                problem(
                    path + ("fixtures", key),
                    f'fixture {key!r}: write "GET /path": {{status: 200, json: {{...}}}}',
                )
                continue
            fixtures[f"{method} {route}"] = (int(answer.get("status", 200)), answer.get("json", {}))
        return BackendSpec("fixtures", fixtures)
    problem(path, "backend is none, demo, live, {error: true} or {fixtures: {...}}")
    return BackendSpec("none")


def _functions(
    raw: Any, path: tuple[Any, ...], problem: Callable[[tuple[Any, ...], str], None]
) -> dict[str, Mapping[str, Any]]:
    """A ``functions:`` mapping: each registered function's canned answer (a mapping)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(answer, dict) for answer in raw.values()):
        problem(path, "functions maps a function name to its answer: {queue_wait: {minutes: 12}, f: {error: down}}")
        return {}
    return {str(name): answer for name, answer in raw.items()}


def stub_functions(registry: ActionRegistry | None, answers: Mapping[str, Mapping[str, Any]]) -> ActionRegistry:
    """``registry`` (default: the built-in functions) with the test's canned answers registered over it."""
    stubbed = ActionRegistry()
    base = registry or default_registry()
    for name in base.names():
        stubbed.register(name)(base.get(name))
    for name, answer in answers.items():
        stubbed.register(name)(_canned(name, answer))
    return stubbed


def _canned(name: str, answer: Mapping[str, Any]) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def function(context: dict[str, Any]) -> dict[str, Any]:
        if "error" in answer:
            raise RuntimeError(f"{name}: {answer['error']} (test)")
        return dict(answer)

    return function


_TURN_KEYS = ("start", "caller", "dtmf", "silence")
_EXPECT_KEYS = ("intent", "slots", "bot_says", "bot_not_says", "handoff", "ends", "state")


def _turn(
    raw: Any, path: tuple[Any, ...], problem: Callable[[tuple[Any, ...], str], None], line: int
) -> ConversationTurn | None:
    if not isinstance(raw, dict):
        problem(path, "a turn is a mapping: caller: ..., dtmf: ..., silence: {} or start: true")
        return None
    kinds = [k for k in _TURN_KEYS if k in raw]
    if len(kinds) != 1:
        problem(path, f"a turn needs exactly one of {', '.join(_TURN_KEYS)}")
        return None
    unknown = [k for k in raw if k not in _TURN_KEYS + _EXPECT_KEYS]
    if unknown:
        problem(
            path + (unknown[0],),
            f"unknown key {unknown[0]!r} in a turn (expectations: {', '.join(_EXPECT_KEYS)})",
        )
    kind = kinds[0]
    value = "" if kind in ("start", "silence") else str(raw[kind])
    says = raw.get("bot_says", ())
    not_says = raw.get("bot_not_says", ())
    expect = TurnExpect(
        intent=raw["intent"] if "intent" in raw else _UNSET,
        slots=dict(raw.get("slots") or {}),
        bot_says=tuple([says] if isinstance(says, str) else says),
        bot_not_says=tuple([not_says] if isinstance(not_says, str) else not_says),
        handoff=raw.get("handoff"),
        ends=raw.get("ends"),
        state=raw.get("state"),
    )
    return ConversationTurn(kind, value, expect, line)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Checking
# ------------------------------------------------------------------------------------------------


def _masked_in(fragment: str, said: list[str]) -> bool:
    """A sensitive value the bot said reaches the call record masked (``****5678``): in audio mode the
    fragment is checked up to its mask, its clear end included."""
    if not re.fullmatch(r"[\d\s-]{3,}", fragment):
        return False
    digits = re.sub(r"\D", "", fragment)
    return any(MASK + digits[len(digits) - keep:] in re.sub(r"(?<=\d)[\s,-]+(?=\d)", "", s)
               for s in said for keep in range(0, 5))


def _norm(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def spoken_forms(text: str, language: str = "en") -> list[str]:
    """A prompt as written and as the TTS will read it (say-as tags expanded)."""
    from voicebot.speech.say_as import normalize

    try:
        return [text, normalize(text, language)]
    except KeyError:  # a language say_as does not know
        return [text]


def check_turn(expect: TurnExpect, outcome: TurnOutcome) -> list[str]:
    """What differs between a turn's expectations and what the bot did (empty: the turn passed)."""
    failures = []
    if expect.intent is not _UNSET and outcome.intent is not _UNSET and expect.intent != outcome.intent:
        conf = f" ({outcome.confidence:.2f})" if outcome.confidence is not None else ""
        failures.append(f"intent: expected {expect.intent!r}, got {outcome.intent!r}{conf}")
    if expect.slots and outcome.slots is not None:
        for name, want in expect.slots.items():
            got = outcome.slots.get(name, _UNSET)
            if got is _UNSET:
                failures.append(f"slot {name}: expected {want!r}, not filled")
            elif _norm(got) != _norm(want):
                failures.append(f"slot {name}: expected {want!r}, got {got!r}")
    said = [form.lower() for text in outcome.bot_says for form in spoken_forms(text)]
    for fragment in expect.bot_says:
        if not any(fragment.lower() in s for s in said) and not _masked_in(fragment, said):
            failures.append(f"bot_says: {fragment!r} not in {list(outcome.bot_says)!r}")
    for fragment in expect.bot_not_says:
        if any(fragment.lower() in s for s in said):
            failures.append(f"bot_not_says: {fragment!r} was said")
    if expect.handoff is not None:
        if expect.handoff is False and outcome.handoff is not None:
            failures.append(f"handoff: expected none, got {outcome.handoff}")
        elif expect.handoff is not False and outcome.handoff is None:
            failures.append(f"handoff: expected {expect.handoff!r}, got none")
        elif isinstance(expect.handoff, dict) and outcome.handoff is not None:
            for key, want in expect.handoff.items():
                got = getattr(outcome.handoff, key, _UNSET)
                if got is _UNSET or _norm(got) != _norm(want):
                    failures.append(
                        f"handoff.{key}: expected {want!r}, got {got if got is not _UNSET else 'nothing'!r}"
                    )
    if expect.ends is not None:
        ended = outcome.ended and outcome.handoff is None
        if bool(expect.ends) != ended:
            failures.append(
                f"ends: expected {bool(expect.ends)}, the call {'ended' if ended else 'did not end'}"
                + (" (handed off)" if outcome.handoff is not None else "")
            )
    if expect.state is not None and outcome.state is not None and expect.state != outcome.state:
        failures.append(f"state: expected {expect.state!r}, got {outcome.state!r}")
    return failures


async def run_test(test: ConversationTest, driver: ConversationDriver) -> ConversationResult:
    """Play one conversation test through a driver; every failing expectation is listed."""
    started = time.perf_counter()
    failures: list[str] = []
    transcript: list[tuple[str, str]] = []
    turns = list(test.turns)
    try:
        outcome = await driver.begin(test)
        transcript += [("bot", s) for s in outcome.bot_says]
        if turns and turns[0].kind == "start":
            failures += [
                f"turn 1 (start, line {turns[0].line}): {f}" for f in check_turn(turns[0].expect, outcome)
            ]
            turns = turns[1:]
        offset = len(test.turns) - len(turns)
        for n, turn in enumerate(turns, start=offset + 1):
            if outcome.ended:
                failures.append(f"turn {n} (line {turn.line}): the call already ended")
                break
            transcript.append(("caller", _describe(turn)))
            outcome = await driver.turn(turn)
            transcript += [("bot", s) for s in outcome.bot_says]
            failures += [
                f"turn {n} ({_describe(turn)}, line {turn.line}): {f}"
                for f in check_turn(turn.expect, outcome)
            ]
    finally:
        await driver.end()
    return ConversationResult(test, not failures, failures, transcript, time.perf_counter() - started)


def _describe(turn: ConversationTurn) -> str:
    return {
        "caller": f'"{turn.value}"',
        "dtmf": f"DTMF {turn.value}",
        "silence": "(silence)",
        "start": "(start)",
    }[turn.kind]


async def run_suite(
    tests: Sequence[ConversationTest], make_driver: Callable[[ConversationTest], ConversationDriver]
) -> list[ConversationResult]:
    return [await run_test(test, make_driver(test)) for test in tests]


def format_results(results: Sequence[ConversationResult], verbose: bool = False,
                   notes: Sequence[str] | None = None) -> str:
    """One line per test (with its note, e.g. the audio mode's caller voice), failures, transcripts."""
    lines = []
    for k, r in enumerate(results):
        note = f"  {notes[k]}" if notes else ""
        lines.append(
            f"{'PASS' if r.passed else 'FAIL'}  {r.test.bundle}: {r.test.name}  "
            f"({r.test.file}:{r.test.line}){note}"
        )
        for failure in r.failures:
            lines.append(f"      - {failure}")
        if (verbose or not r.passed) and r.transcript:
            lines.append("      transcript:")
            lines += [f"        {who:>6}: {text}" for who, text in r.transcript]
    passed = sum(r.passed for r in results)
    lines.append(f"{passed}/{len(results)} conversation tests passed")
    return "\n".join(lines)


def results_json(results: Sequence[ConversationResult]) -> dict[str, Any]:
    return {
        "passed": sum(r.passed for r in results),
        "total": len(results),
        "tests": [
            {
                "bundle": r.test.bundle,
                "name": r.test.name,
                "file": r.test.file,
                "line": r.test.line,
                "passed": r.passed,
                "failures": r.failures,
                "seconds": round(r.seconds, 3),
                "transcript": [list(t) for t in r.transcript],
            }
            for r in results
        ],
    }


# ------------------------------------------------------------------------------------------------
# The text driver
# ------------------------------------------------------------------------------------------------


def backend_client(
    spec: BackendSpec, bundle_backend: str | None
) -> tuple[httpx.AsyncClient, Callable[[], None]]:
    """An HTTP client for a test's backend, and a cleanup function."""
    base_path = urlsplit((bundle_backend or "http://backend/").replace("{service}", "http://backend")).path.rstrip("/")
    if spec.mode == "live":
        return httpx.AsyncClient(), lambda: None
    if spec.mode == "demo":
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from voicebot.demo.backend import create_demo_app

        tmp = tempfile.TemporaryDirectory(prefix="voicebot-demo-")
        demo = create_demo_app(Path(tmp.name) / "demo.db")
        app = Starlette(routes=[Mount(base_path or "/", app=demo)]) if base_path else demo
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app)), tmp.cleanup

    def handle(request: httpx.Request) -> httpx.Response:
        if spec.mode != "fixtures":
            raise httpx.ConnectError(f"backend {spec.mode} (test)", request=request)
        route = (
            request.url.path[len(base_path) :] if request.url.path.startswith(base_path) else request.url.path
        )
        query = request.url.query.decode()
        for key in (f"{request.method} {route}?{query}", f"{request.method} {route}"):
            if key in spec.fixtures:
                status, body = spec.fixtures[key]
                return httpx.Response(status, json=body)
        return httpx.Response(
            404, json={"error": "no_fixture", "message": f"no fixture for {request.method} {route}"}
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handle)), lambda: None


class TextDriver:
    """Drives the dialog engine with text through an NLU (no audio). A handoff is routed as a call routes it
    (the bundle's routing plan, the caller's tier, the anger in the last turns), so a test expects the same
    queue and priority in text and in audio."""

    def __init__(
        self,
        bundle: Bundle,
        nlu: LanguageUnderstanding,
        registry: ActionRegistry | None = None,
        backend_url: str | None = None,
        find_correction: Callable[[str], str | None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.nlu = nlu
        self.registry = registry
        self.backend_url = backend_url
        self.find_correction = find_correction
        self.engine: DialogEngine | None = None
        self.state: DialogState | None = None
        self._listen: Listen | None = None
        self._plan = plan_from_spec(bundle.spec.routing)
        self._emotions: list[tuple[str, float]] = []
        self._intents: list[str | None] = []
        self._client: httpx.AsyncClient | None = None
        self._cleanup: Callable[[], None] = lambda: None

    @property
    def expectation(self) -> Expectation | None:
        """What the bot listens for now (the hints a call's recogniser would be given), once it has asked."""
        return self._listen.expect if self._listen is not None else None

    async def begin(self, test: ConversationTest) -> TurnOutcome:
        self._client, self._cleanup = backend_client(test.backend, self.backend_url or self.bundle.backend)
        base_url = self.backend_url if test.backend.mode == "live" else None
        registry = stub_functions(self.registry, test.functions) if test.functions else self.registry
        runner = ActionRunner(registry, client=self._client, base_url=base_url)
        self.engine = DialogEngine(self.bundle, runner)
        self.state = self.engine.start(f"test-{abs(hash(test.name)) % 10**8}", test.caller_id, test.variables)
        result = await self.engine.step(
            self.state, CallStart(test.caller_id, "", tuple(test.variables.items()))
        )
        return self._outcome(result.actions, result.decisions, result.state_name)

    async def turn(self, turn: ConversationTurn) -> TurnOutcome:
        assert self.engine is not None and self.state is not None
        intent: Any = _UNSET
        confidence = None
        understanding: Understanding | None = None
        if turn.kind == "caller":
            slot_type = self._listen.expect.hints.slot_type if self._listen else None
            understanding = await self.nlu.understand(turn.value, 1.0, slot_type)
            if self.find_correction is not None:  # corrections read by the given function, not the NLU
                understanding = replace(understanding, correction=self.find_correction(turn.value))
            intent, confidence = understanding.intent, understanding.confidence
            if understanding.emotion is not None:
                self._emotions.append((understanding.emotion.label, understanding.emotion.score))
            self._intents.append(understanding.intent)
            event: Any = understanding
        elif turn.kind == "dtmf":
            event = DigitsInput(turn.value.rstrip("#"), terminated=turn.value.endswith("#"))
        elif turn.kind == "silence":
            event = NoInput(self._listen.expect.no_input_s if self._listen else 0.0)
        else:
            event = CallStart(self.state.caller_id)
        result = await self.engine.step(self.state, event)
        outcome = self._outcome(result.actions, result.decisions, result.state_name)
        return TurnOutcome(
            outcome.bot_says,
            outcome.handoff,
            outcome.ended,
            intent,
            confidence,
            outcome.slots,
            outcome.state,
            outcome.decisions,
        )

    def _outcome(
        self, actions: Sequence[BotAction], decisions: Sequence[str], state_name: str
    ) -> TurnOutcome:
        assert self.state is not None
        handoff = next((a for a in actions if isinstance(a, Handoff)), None)
        if handoff is not None:
            handoff = route(handoff, {**self.state.call_vars, **self.state.vars}, self._emotions, self._plan,
                            self._intents)
        listen = next((a for a in actions if isinstance(a, Listen)), None)
        if listen is not None:
            self._listen = listen
        ended = handoff is not None or any(isinstance(a, EndCall) for a in actions)
        return TurnOutcome(
            tuple(a.text for a in actions if isinstance(a, Say)),
            handoff,
            ended,
            slots=dict(self.state.slots),
            state=state_name,
            decisions=tuple(decisions),
        )

    async def end(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._cleanup()


def real_nlu_factory(cache_dir: Path | None = None) -> Callable[[Bundle], LanguageUnderstanding]:
    """Load the real NLU models once; return a function giving each bundle its trained Nlu (memoised)."""
    from voicebot.models import ModelMissing
    from voicebot.nlu.build import build_nlu
    from voicebot.nlu.embeddings import MiniLmEmbedder

    embedder = MiniLmEmbedder.load()
    try:
        from voicebot.nlu.emotion import EmotionClassifier

        emotion = EmotionClassifier.load()
    except (ImportError, OSError, ModelMissing) as exc:
        import logging

        logging.getLogger(__name__).warning(
            "emotion model unavailable (%s): frustration handling is off", exc
        )
        emotion = None
    trained: dict[tuple[str, str], LanguageUnderstanding] = {}

    def for_bundle(bundle: Bundle) -> LanguageUnderstanding:
        key = (bundle.name, bundle.version)
        if key not in trained:
            trained[key] = build_nlu(bundle, embedder, emotion, None, cache_dir)
        return trained[key]

    return for_bundle
