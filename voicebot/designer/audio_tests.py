"""Conversation tests in audio mode (``voicebot test --audio``): each test is one real phone call.

The test's turns become a caller script (:func:`caller_script`): the caller waits for the bot to finish
speaking before every turn, ``caller:`` text is spoken (by the project's Piper voice, or by a caller voice
over a telephone channel, see below), ``dtmf:`` is keyed, ``silence:`` just waits for the bot's no-input
reprompt. The call goes over AudioSocket to a real
``voicebot serve`` (one per bundle, started here with that bundle as its default flow), so the caller's
words pass through VAD, end of turn, ASR and the NLU before the dialog sees them. After the call, its
stored record (``GET /api/calls/{id}``) is mapped back onto the test's turns (:func:`outcomes_from_record`):
record turn 0 is the greeting, each later record turn answers one caller input. The outcomes are checked
by the same :func:`~voicebot.designer.conversation_tests.run_test` as the text mode.

What a call cannot show is ``None`` and its expectations are skipped: filled slots are not in the call
record (only the NLU's entities are), so ``slots:`` is not checked; ``bot_says`` is checked against the
prompt text the bot spoke (as in text mode, not against what the caller's side heard). AudioSocket carries
only the call UUID, so a test's ``caller_id`` and ``variables`` do not reach the bot. Tests whose backend is
canned (``fixtures``) or failing (``error``) cannot run against a real service and are reported skipped.
The service's demo backend database is restored to its seeded state before every test, as the text mode
gives every test a fresh one.

Caller voices (``--voice``, ``--channel``; :mod:`voicebot.caller.voices`): every voice over every channel
makes the list of caller setups, and the tests take them in turn, one setup per test (test *i* of the run
gets setup *i* mod *n*), so a run of 27 tests with ``--voice flite`` speaks about 7 tests with each of the
four flite voices. The default, ``piper`` over ``clean``, is the simulator's own rendering. Flite and
festival audio is cached on disk (``var/caller-voices/``), so reruns start at once.

Concurrent calls (``--jobs N``): each bundle gets N services, each playing its share of the tests one call
after the other (a shared queue); the first service starts alone and fills the prompt and intent caches
the others then load from. One service per lane because the tests change the demo backend (cards
blocked, returns and bookings made) and every call must start from the seeded database, as in a sequential
run; N calls at a time on a busy machine also load the recogniser more, so compare runs at the same N.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from voicebot.caller.bench import BenchTarget
from voicebot.caller.launcher import ServeError, serving
from voicebot.caller.script import CallerScript, HangUp, SayText, SendDtmf, Step, WaitForBot
from voicebot.caller.simulator import AudioRenderer, CallResult, place_call, prepare_script
from voicebot.caller.voices import CallerSetup, caller_setups, missing_tools, renderer_for
from voicebot.designer.conversation_tests import (
    ConversationResult,
    ConversationTest,
    ConversationTurn,
    TurnOutcome,
    _UNSET,
    format_results,
    results_json,
    run_test,
)
from voicebot.types import Handoff

BOT_QUIET_S = 1.5  # the bot is done when it has been quiet this long (covers a pause between prompts)
ANSWER_TIMEOUT_S = 30.0  # how long the caller waits for the bot to start answering a turn
SILENCE_TIMEOUT_S = 60.0  # a silence turn waits this long for the bot's no-input prompt
RECORD_TIMEOUT_S = 20.0  # how long to wait for the call record to be complete after hangup
MAX_RESTARTS = 2  # per lane: a service that stopped mid-run is restarted at most this often
VOICE_CACHE = Path("var/caller-voices")
SERVE_READY_S = 900.0  # loading the models takes minutes on a busy machine, several services at once
_INPUT_KINDS = ("speech", "dtmf", "no_input")
_ENDED_OUTCOMES = ("completed", "handoff")


def skip_reason(test: ConversationTest) -> str | None:
    """Why a test cannot run over a real call, or None when it can."""
    if test.backend.mode in ("fixtures", "error"):
        return (f"backend {test.backend.mode!r} needs the text mode "
                "(a real call reaches the service's own backend)")
    if test.backend.mode == "live":
        return "backend 'live' is the service's configured backend; run such tests in text mode"
    if test.variables:
        return "call variables cannot be passed over AudioSocket"
    if test.functions:
        return "functions: canned answers need the text mode (a real call runs the service's own functions)"
    if any(t.kind == "start" for t in test.turns[1:]):
        return "a 'start' turn after the first cannot be played in one call"
    return None


def caller_script(test: ConversationTest) -> CallerScript:
    """The caller's side of a test: wait for the bot, then each turn's speech, digits or silence."""
    steps: list[Step] = [WaitForBot(timeout=ANSWER_TIMEOUT_S, quiet=BOT_QUIET_S)]
    for turn in test.turns:
        if turn.kind == "start":
            continue
        if turn.kind == "caller":
            steps.append(SayText(turn.value))
        elif turn.kind == "dtmf":
            steps.append(SendDtmf(turn.value.upper()))
        timeout = SILENCE_TIMEOUT_S if turn.kind == "silence" else ANSWER_TIMEOUT_S
        steps.append(WaitForBot(timeout=timeout, quiet=BOT_QUIET_S))
    steps.append(HangUp())
    return CallerScript(tuple(steps), caller_id=test.caller_id, name=test.name)


@dataclass(frozen=True, slots=True)
class Heard:
    """One caller input as the service received it."""

    kind: str  # speech | dtmf | no_input
    text: str  # the ASR transcript, the digits, or ""
    intent: str | None
    confidence: float | None


@dataclass(frozen=True, slots=True)
class RecordMapping:
    outcomes: tuple[TurnOutcome, ...]  # [0] is the greeting, then one per caller input the bot answered
    heard: tuple[Heard, ...]
    problems: tuple[str, ...]


def _handoff(packet: Mapping[str, Any] | None) -> Handoff | None:
    if not packet:
        return None
    return Handoff(
        reason=str(packet.get("reason", "")),
        queue=str(packet.get("queue", "general")),
        skill=packet.get("skill"),
        priority=int(packet.get("priority") or 0),
    )


def outcomes_from_record(test: ConversationTest, record: Mapping[str, Any]) -> RecordMapping:
    """Map a stored call record onto the test's turns (greeting first, then one turn per caller input)."""
    turns = sorted(record.get("turns") or [], key=lambda t: t.get("index", 0))
    start = [t for t in turns if t.get("input_kind") == "start"]
    scripted = sum(1 for t in test.turns if t.kind != "start")
    inputs = _one_entry_each(test, [t for t in turns if t.get("input_kind") in _INPUT_KINDS], scripted)
    answered = ([start[0]] if start else [{}]) + inputs
    ended = record.get("outcome") in _ENDED_OUTCOMES
    handoff = _handoff(record.get("handoff")) if record.get("outcome") == "handoff" else None
    outcomes = []
    for k, t in enumerate(answered):
        last = k == len(answered) - 1
        speech = t.get("input_kind") == "speech"
        outcomes.append(
            TurnOutcome(
                bot_says=(t["bot_text"],) if t.get("bot_text") else (),
                handoff=handoff if last else None,
                ended=ended and last,
                intent=t.get("intent") if speech else _UNSET,
                confidence=t.get("intent_confidence") if speech else None,
                slots=None,
                state=t.get("state") or None,
                decisions=tuple(d for d in (t.get("decision") or "").split("; ") if d),
            )
        )
    heard = tuple(
        Heard(
            t.get("input_kind", ""),
            str((t.get("entities") or {}).get("dtmf", ""))
            if t.get("input_kind") == "dtmf"
            else t.get("caller_text") or "",
            t.get("intent"),
            t.get("intent_confidence"),
        )
        for t in inputs
    )
    problems = []
    if not start:
        problems.append("the call record has no greeting turn")
    if len(inputs) > scripted:
        problems.append(
            f"the bot took {len(inputs)} caller inputs for {scripted} scripted turns "
            "(an utterance split in two, or noise taken for speech): later turns are misaligned"
        )
    elif len(inputs) < scripted and not ended:
        problems.append(
            f"the bot answered {len(inputs)} of {scripted} scripted turns before the caller hung up "
            "(an utterance missed or two merged)"
        )
    return RecordMapping(tuple(outcomes), heard, tuple(problems))


def _keys(turn: Mapping[str, Any]) -> str:
    return str((turn.get("entities") or {}).get("dtmf", "")) if turn.get("input_kind") == "dtmf" else ""


def _one_entry_each(test: ConversationTest, inputs: list[Mapping[str, Any]], scripted: int
                    ) -> list[Mapping[str, Any]]:
    """The record's inputs with a keyed entry the bot took in two one counted once: its first key answered
    the question on its own ("1" for yes at "Did you want to …?") and the entry went on as one input from that
    key (``call/dtmf.py``'s ``KeyedOn``), when the test keyed that entry in one turn and the record holds more
    inputs than the test has turns. The entry's turn is what the bot answered to it."""
    if len(inputs) <= scripted:
        return inputs
    entries = {t.value.rstrip("#") for t in test.turns if t.kind == "dtmf"}
    return [t for k, t in enumerate(inputs)
            if not (len(_keys(t)) == 1 and k + 1 < len(inputs) and (entry := _keys(inputs[k + 1])) in entries
                    and len(entry) > 1 and entry.startswith(_keys(t)))]


class AudioDriver:
    """A :class:`~voicebot.designer.conversation_tests.ConversationDriver` that plays a whole test as one real call.

    ``begin`` places the call and reads its record; ``turn`` then hands out the recorded outcomes in order.
    """

    def __init__(self, target: BenchTarget, renderer: AudioRenderer,
                 before_call: Callable[[], None] | None = None, call_timeout: float = 600.0) -> None:
        self.target = target
        self.renderer = renderer
        self.before_call = before_call
        self.call_timeout = call_timeout
        self.call: CallResult | None = None
        self.record: dict[str, Any] | None = None
        self.mapping = RecordMapping((), (), ())
        self._next = 1

    async def begin(self, test: ConversationTest) -> TurnOutcome:
        prepared = await asyncio.to_thread(prepare_script, caller_script(test), 8000, self.renderer)
        if self.before_call is not None:
            self.before_call()
        self.call = await place_call(self.target.host, self.target.port, prepared, timeout=self.call_timeout)
        self.record = await fetch_record(self.target.web_url or "", self.call.call_id, self.target.api_token)
        if self.record is None:
            self.mapping = RecordMapping((), (), (f"no call record for {self.call.call_id}",))
        else:
            self.mapping = outcomes_from_record(test, self.record)
        return self._outcome(0)

    async def turn(self, turn: ConversationTurn) -> TurnOutcome:
        outcome = self._outcome(self._next)
        self._next += 1
        return outcome

    async def end(self) -> None:
        return None

    def _outcome(self, k: int) -> TurnOutcome:
        if k < len(self.mapping.outcomes):
            return self.mapping.outcomes[k]
        return TurnOutcome(bot_says=())  # the bot never answered this turn (see the mapping problems)

    def problems(self) -> list[str]:
        """Call and record problems that are not a turn's expectation (simulator errors, misalignment)."""
        found = [f"call: {e}" for e in (self.call.errors if self.call else ())]
        return found + [f"audio: {p}" for p in self.mapping.problems]


async def fetch_record(web_url: str, call_id: str, api_token: str | None,
                       timeout: float = RECORD_TIMEOUT_S) -> dict[str, Any] | None:
    """The call's record once it has ended (records are written asynchronously after the hangup); reading it
    takes a ``read`` token."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    record: dict[str, Any] | None = None
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
    async with httpx.AsyncClient(timeout=5.0, headers=headers) as client:
        while loop.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"{web_url}/api/calls/{call_id}")
                if response.status_code == 200:
                    record = response.json()
                    if record.get("ended_at"):
                        await asyncio.sleep(0.3)  # the last turn may be queued just behind the end
                        return (await client.get(f"{web_url}/api/calls/{call_id}")).json()
            await asyncio.sleep(0.25)
    return record


class DemoDbSnapshot:
    """The service's demo backend database as seeded; ``restore`` puts it back (between calls only)."""

    def __init__(self, live: Path, copy: Path) -> None:
        self.live, self.copy = live, copy
        self._copy(live, copy)

    @staticmethod
    def _copy(source: Path, target: Path) -> None:
        with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(
            sqlite3.connect(target, timeout=10)
        ) as dst:
            src.backup(dst)

    def restore(self) -> None:
        self._copy(self.copy, self.live)


# --------------------------------------------------------------------------------------------------
# Running a suite
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class AudioTestResult:
    result: ConversationResult | None  # None when skipped
    test: ConversationTest
    skipped: str | None = None
    heard: tuple[Heard, ...] = ()
    call_id: str = ""
    events: tuple[dict[str, Any], ...] = ()  # the call record's events (transcripts, barge-ins...), if failed
    caller: CallerSetup = CallerSetup()  # who spoke the caller's lines, over what line


@dataclass(slots=True)
class AudioRun:
    results: list[AudioTestResult] = field(default_factory=list)

    @property
    def ran(self) -> list[ConversationResult]:
        return [r.result for r in self.results if r.result is not None]

    @property
    def skipped(self) -> list[AudioTestResult]:
        return [r for r in self.results if r.skipped]


async def _run_one(test: ConversationTest, target: BenchTarget, renderer: AudioRenderer,
                   snapshot: DemoDbSnapshot | None) -> AudioTestResult:
    driver = AudioDriver(target, renderer, snapshot.restore if snapshot else None)
    result = await run_test(test, driver)
    problems = driver.problems()
    if problems:
        result.failures[:0] = problems
        result.passed = False
    _with_heard(result, driver.mapping.heard)
    call_id = driver.call.call_id if driver.call else ""
    events = tuple((driver.record or {}).get("events") or ()) if not result.passed else ()
    return AudioTestResult(result, test, None, driver.mapping.heard, call_id, events)


async def _serving(target: BenchTarget) -> bool:
    """Whether the service still answers ``/healthz``."""
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return (await client.get(f"{target.web_url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.asynccontextmanager
async def serve_bundle(dialogs_dir: Path, bundle: str, workdir: Path) -> AsyncIterator[BenchTarget]:
    """A real ``voicebot serve`` on free ports whose default flow is ``bundle``. Its records are not masked
    (``pii.mask`` off): the tests check the words and digits said and heard, as the text mode does."""
    env = {"VOICEBOT_DIALOG__DIR": str(dialogs_dir.resolve()), "VOICEBOT_DIALOG__DEFAULT_FLOW": bundle,
           "VOICEBOT_DIALOG__HOT_RELOAD": "false", "VOICEBOT_PII__MASK": "false"}
    async with serving(workdir, env, ready_timeout=SERVE_READY_S) as service:
        yield BenchTarget.of(service)


def _with_heard(result: ConversationResult, heard: Sequence[Heard]) -> None:
    """Put what the service heard after each scripted caller line of the transcript."""
    out: list[tuple[str, str]] = []
    k = 0
    for who, text in result.transcript:
        out.append((who, text))
        if who == "caller":
            if k < len(heard):
                h = heard[k]
                said = {"speech": f'"{h.text}"', "dtmf": f"DTMF {h.text}", "no_input": "(no input)"}.get(
                    h.kind, h.kind)
                intent = ""
                if h.kind == "speech" and h.confidence is not None:
                    intent = f"  [intent {h.intent} {h.confidence:.2f}]"
                out.append(("heard", said + intent))
            else:
                out.append(("heard", "(nothing)"))
            k += 1
    result.transcript = out


def rotate(tests: Sequence[ConversationTest], setups: Sequence[CallerSetup]) -> list[CallerSetup]:
    """One caller setup per test, taken in turn (test i gets setup i mod n)."""
    return [setups[i % len(setups)] for i in range(len(tests))]


async def run_audio_tests(tests: Sequence[ConversationTest], dialogs_dir: Path,
                          on_result: Callable[[AudioTestResult], None] | None = None,
                          callers: Sequence[CallerSetup] | None = None, jobs: int = 1,
                          cache_dir: Path | None = VOICE_CACHE) -> AudioRun:
    """Run every test as one real call, ``jobs`` calls at a time per bundle; skipped tests are listed with
    the reason. ``callers`` gives each test its caller setup (default: Piper over a clean line); a test may
    appear more than once with different setups. Results come back in the order of ``tests``."""
    callers = list(callers) if callers is not None else [CallerSetup()] * len(tests)
    if len(callers) != len(tests):
        raise ValueError(f"{len(callers)} caller setups for {len(tests)} tests")
    renderers = {setup: renderer_for(setup, cache_dir) for setup in dict.fromkeys(callers)}
    done: dict[int, AudioTestResult] = {}

    def emit(k: int, result: AudioTestResult) -> None:
        done[k] = result
        if on_result:
            on_result(result)

    runnable: dict[str, list[tuple[int, ConversationTest, CallerSetup]]] = {}
    for k, (test, setup) in enumerate(zip(tests, callers)):
        reason = skip_reason(test)
        if reason:
            emit(k, AudioTestResult(None, test, reason, caller=setup))
        else:
            runnable.setdefault(test.bundle, []).append((k, test, setup))
    for bundle, planned in runnable.items():
        await _run_bundle(bundle, planned, dialogs_dir, renderers, max(1, jobs), emit)
    return AudioRun([done[k] for k in sorted(done)])


def _prerender(planned: Sequence[tuple[int, ConversationTest, CallerSetup]],
               renderers: Mapping[CallerSetup, AudioRenderer], stop: threading.Event) -> None:
    """Render the caller lines in the order the calls take them (blocking; the renderers cache them), so
    that most calls find their audio ready; a call whose audio is not ready renders it itself."""
    for _, test, setup in planned:
        if stop.is_set():
            return
        with contextlib.suppress(Exception):  # a script that cannot render fails in its own call
            prepare_script(caller_script(test), 8000, renderers[setup])


async def _run_bundle(bundle: str, planned: Sequence[tuple[int, ConversationTest, CallerSetup]],
                      dialogs_dir: Path, renderers: Mapping[CallerSetup, AudioRenderer], jobs: int,
                      emit: Callable[[int, AudioTestResult], None]) -> None:
    """``jobs`` lanes, each a service of its own playing tests from the shared queue one after the other."""
    pending = deque(planned)
    stop = threading.Event()
    rendered = asyncio.ensure_future(asyncio.to_thread(_prerender, planned, renderers, stop))

    first_up = asyncio.Event()
    # Services start one at a time: each start migrates its own database with Alembic, whose module-level
    # context is not safe to enter twice at once in one process (three lanes at once: KeyError 'config', or
    # a start that never returned).
    starting = asyncio.Lock()

    async def lane(first: bool) -> None:
        if not first:  # the first service fills the prompt and intent caches; the others then load fast
            await first_up.wait()
        restarts = 0
        while pending:  # a service that stopped mid-run (killed from outside) is restarted, at most twice
            workdir = Path(tempfile.mkdtemp(prefix=f"voicebot-audio-{bundle}-"))
            try:
                async with contextlib.AsyncExitStack() as stack:
                    try:
                        async with starting:
                            target = await stack.enter_async_context(serve_bundle(dialogs_dir, bundle, workdir))
                    except ServeError as error:  # the other lanes take this lane's tests
                        print(f"a call lane of {bundle} gives up: {error}", file=sys.stderr)
                        return
                    finally:
                        if first:
                            first_up.set()
                    demo_db = workdir / "demo.db"
                    snapshot = (DemoDbSnapshot(demo_db, workdir / "demo.seeded.db")
                                if demo_db.exists() else None)
                    while pending:
                        k, test, setup = pending.popleft()
                        outcome = await _run_one(test, target, renderers[setup], snapshot)
                        outcome.caller = setup
                        if not await _serving(target):
                            if restarts < MAX_RESTARTS:
                                restarts += 1
                                print(f"voicebot serve stopped during {test.name!r} "
                                      f"(log: {workdir / 'serve.log'}); restarting it and the test",
                                      file=sys.stderr)
                                pending.appendleft((k, test, setup))
                                break
                            outcome.result.failures.insert(0, "audio: voicebot serve stopped during the call")
                            outcome.result.passed = False
                        emit(k, outcome)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

    try:
        async with asyncio.TaskGroup() as lanes:
            for n in range(min(jobs, len(planned))):
                lanes.create_task(lane(first=n == 0))
    finally:
        stop.set()
        await rendered
    if pending:
        raise ServeError(f"no voicebot serve of {bundle} could start; {len(pending)} test(s) not run")


def format_audio(run: AudioRun, verbose: bool = False) -> str:
    """The text mode's report (transcripts with what the service heard, the caller's voice and line),
    then the skipped tests."""
    ran = [r for r in run.results if r.result is not None]
    lines = [format_results(run.ran, verbose, [f"[{r.caller.label}]" for r in ran])] if ran else []
    for r in run.skipped:
        lines.append(f"SKIP  {r.test.bundle}: {r.test.name}  ({r.test.file}:{r.test.line}): {r.skipped}")
    passed = sum(r.passed for r in run.ran)
    lines.append(f"audio mode: {passed}/{len(run.ran)} conversation tests passed, {len(run.skipped)} skipped")
    return "\n".join(lines)


def audio_json(run: AudioRun) -> dict[str, Any]:
    data = results_json(run.ran)
    ran = [r for r in run.results if r.result is not None]
    for entry, r in zip(data["tests"], ran, strict=True):
        entry.update(_caller_json(r.caller))
        entry["call_id"] = r.call_id
        if r.events:
            entry["events"] = list(r.events)
        entry["heard"] = [
            {"kind": h.kind, "text": h.text, "intent": h.intent, "confidence": h.confidence} for h in r.heard
        ]
    data["skipped"] = [
        {"bundle": r.test.bundle, "name": r.test.name, "file": r.test.file, "line": r.test.line,
         "reason": r.skipped, **_caller_json(r.caller)}
        for r in run.skipped
    ]
    data["mode"] = "audio"
    return data


def _caller_json(setup: CallerSetup) -> dict[str, str]:
    return {"voice": setup.voice, "family": setup.family, "channel": setup.channel.name}


def run_cli(path: Path, flow: str | None, json_out: bool, verbose: bool,
            voices: str = "piper", channels: str = "clean", jobs: int = 1, match: str | None = None) -> int:
    """``voicebot test --audio``: exit 0 all ran tests passed, 1 some failed, 2 nothing could run (or a
    bad option)."""
    from voicebot.designer.conversation_tests import load_tests

    try:
        setups = caller_setups(voices, channels)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = missing_tools() if any(s.family != "piper" or s.channel.name != "clean" for s in setups) else []
    if missing:
        print(f"error: caller voices need the Debian packages {' '.join(missing)} (apt-get install ...)",
              file=sys.stderr)
        return 2
    directory = path if path.is_dir() else path.parent
    dialogs_dir = directory.parent if directory.name == "tests" else directory
    tests, problems = load_tests(path if path.name.endswith(".test.yaml") else directory, flow, match)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not tests:
        print(f"no conversation tests found under {directory}" + (f" for {flow}" if flow else "")
              + (f" named like {match!r}" if match else ""), file=sys.stderr)
        return 2

    def progress(r: AudioTestResult) -> None:
        state = "SKIP" if r.result is None else ("PASS" if r.result.passed else "FAIL")
        print(f"[{state}] {r.test.bundle}: {r.test.name}  [{r.caller.label}]", file=sys.stderr, flush=True)

    print(f"audio mode: {len(tests)} test(s), {jobs} call(s) at a time; callers: "
          f"{', '.join(s.label for s in setups)}; starting voicebot serve per bundle...", file=sys.stderr)
    run = asyncio.run(run_audio_tests(tests, dialogs_dir, progress, rotate(tests, setups), jobs))
    if json_out:
        print(json.dumps(audio_json(run), indent=2, default=str))
    else:
        print(format_audio(run, verbose))
    if not run.ran:
        return 2
    return 0 if all(r.passed for r in run.ran) and not problems else 1
