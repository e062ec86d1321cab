"""The web API fuzzed from its own OpenAPI schema (schemathesis): every operation, with an admin API token and
without one, against the real app served by uvicorn over a SQLite file holding calls, people, desk actions, a
ticket, a recording, QA corrections and scores, an unmasked original and a report's records. Bad input must get a
4xx, never a 5xx, and what is answered must match the schema. Deterministic: a fixed seed and bounded examples."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from fakes import store_ok
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from recording_site import _record
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from served import served_web_app

from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.call.recording import record_of
from voicebot.config import CHECKOUT, DesktopSettings, QaSettings, ReportSettings, WebSettings
from voicebot.qa.forms import load_forms
from voicebot.reports.build import Reports
from voicebot.store.audit import Sealer, SqlPiiVault, new_key
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.qa import ScoreCard, SqlQaStore
from voicebot.store.queries import SqlCallQueries
from voicebot.store.recordings import SqlRecordingStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.reports import SqlReportStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn, now
from voicebot.web.auth import Role, Scope, issue_token, store_lookup
from voicebot.web.context import Desktop, People, QaConsole, RecordingAccess, WebContext
from voicebot.web.logins import add_user
from voicebot.web.pii import PiiAccess

EXAMPLES = 20  # per operation, mode and run
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
OPERATIONS = 15  # at least: calls, announce, handoff, flows, QA, tickets, reports, unmasked text, audit, health …
Served = tuple[str, str, dict[str, str]]  # the base URL, an admin token, path parameters naming stored things
PUBLIC = ("/healthz", "/metrics")  # answered to anyone (the balancer, Prometheus)


async def _fill(store: SqlCallStore, folder: Path) -> tuple[WebContext, str, str]:
    """Records of every kind the API reads; the web context over them, an admin token's secret and the id of the
    call that has them all (a recording, an unmasked original, a ticket, a score card)."""
    engine = store.engine
    calls = [str(uuid.uuid4()) for _ in range(3)]
    for n, (call, outcome) in enumerate(zip(calls, ("handoff", "completed", "abandoned"), strict=True)):
        await store.call_started(call, f"+1555000{n}", "banking", now())
        await store.turn_completed(call, Turn(index=0, caller_text="my card was stolen", intent="card_lost",
                                              bot_text="I am sorry. Let me block it.", state="ask"))
        await store.turn_completed(call, Turn(index=1, caller_text="yes please", intent="confirm",
                                              bot_text="Done.", state="done"))
        await store.call_ended(call, outcome, now(), None)
    await store.flush()
    users, tokens, desk = SqlUserStore(engine), SqlTokenStore(engine), SqlDeskStore(engine)
    for name, role in {"ann": Role.AGENT, "sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}.items():
        await add_user(users, name, role, "correct horse battery")
    await desk.add_action(calls[0], "ann", "disposition", {"disposition": "resolved"})
    tickets = SqlTicketStore(engine)
    await tickets.open(title="Card blocked", description="caller asked for a new card", call_id=calls[0],
                       source="agent", created_by="ann")
    qa_store = SqlQaStore(engine)
    await qa_store.correct(calls[0], 0, "my card was stolen yesterday", "card_lost", "quinn")
    forms = load_forms(CHECKOUT / "dialogs" / "qa")
    form = next(iter(forms.values()))
    await qa_store.save_score(ScoreCard(calls[0], form.name, 1.0, {}, "fine", "quinn", datetime.now(UTC)))
    recordings = SqlRecordingStore(engine)
    written = await _record(folder / "recordings", calls[0])
    await recordings.add(record_of(calls[0], "banking", written, 30, datetime.now(UTC)))
    sealer = Sealer(new_key())
    vault = SqlPiiVault(engine, sealer)
    await vault.keep(calls[0], 0, sealer.seal({"caller_text": "my card 4111 1111 1111 1111 was stolen"}))
    await vault.close()
    admin = await issue_token(tokens, "fuzz", frozenset({Scope.ADMIN}))
    qa = QaConsole(qa_store, forms, QaSettings())
    people = People(users, tokens, WebSettings(), Desktop(desk, None, DesktopSettings()), qa=qa, tickets=tickets)
    ctx = WebContext(calls=SqlCallQueries(engine), directory=MemoryCallDirectory(), bus=EventBus(),
                     flow_names=lambda: ["banking"], routable=lambda name: name == "banking",
                     active_calls=lambda: 0, principal_for=store_lookup(tokens), store_health=store_ok,
                     people=people, reports=Reports(SqlReportStore(engine), ReportSettings()),
                     recordings=RecordingAccess(recordings, recordings.audit_playback),
                     pii=PiiAccess(vault, qa_reads_unmasked=False))
    return ctx, admin.secret, calls[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app served (``tests/served.py``): its base URL, an admin token and path parameters that name stored
    things (the recorded call, a report)."""
    folder = tmp_path_factory.mktemp("fuzz")

    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, Served]:
        ctx, secret, call = await _fill(store, folder)
        return ctx, (url, secret, {"call_id": call, "name": "containment"})

    with served_web_app(folder, build) as site:
        yield site


def _fuzz(url: str, headers: dict[str, str], run_seed: int, known: dict[str, str],
          also: Callable[[Case, Response], str | None] = lambda case, response: None) -> tuple[list[str], Counter]:
    """Every operation of the served schema: up to ``EXAMPLES`` valid and ``EXAMPLES`` invalid requests each, and
    as many valid ones with the ``known`` path parameters (a stored call, a report) so that they reach past the
    404. What failed (one line per operation and pass: the check's message, or ``also``'s) and the requests sent
    per operation."""
    api = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures, sent = [], Counter()
    for result in api.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        wanted = re.findall(r"{(\w+)}", operation.path)
        passes = {str(mode): operation.as_strategy(generation_mode=mode)
                  for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
        if wanted and set(wanted) <= set(known):
            passes["known"] = operation.as_strategy(path_parameters={key: known[key] for key in wanted})
        for label, strategy in passes.items():

            @seed(run_seed)
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=strategy)
            def check(case: Case) -> None:
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                sent[f"{case.method} {case.path}"] += 1
                problem = also(case, response)
                assert problem is None, problem

            try:
                check()
            except Unsatisfiable:  # an operation without parameters has no invalid request
                assert label == "negative" and not wanted and not operation.query, name
            except (AssertionError, Failure, FailureGroup, ExceptionGroup) as error:
                failures.append(f"{name} ({label}): {error}"[:2000])
        if not sent[name]:
            failures.append(f"{name}: never requested")
    return failures, sent


def test_with_an_admin_token_no_operation_fails_or_breaks_its_schema(served: Served) -> None:
    url, secret, known = served
    failures, sent = _fuzz(url, {"Authorization": f"Bearer {secret}"}, 15, known)
    assert failures == [] and len(sent) >= OPERATIONS


def refused_unless_public(case: Case, response: Response) -> str | None:
    if case.path in PUBLIC or response.status_code in (401, 404, 405):
        return None
    return f"{case.method} {case.formatted_path} answered {response.status_code} without a token"


def test_without_a_token_every_operation_is_refused_or_public(served: Served) -> None:
    url, _, known = served
    failures, sent = _fuzz(url, {}, 13, known, also=refused_unless_public)
    assert failures == [] and len(sent) >= OPERATIONS
