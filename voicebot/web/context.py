"""What the web app may use of the running service: a narrow door, built by the composition root (``app.py``).

The web side checks API tokens through ``principal_for`` and people's logins through ``people``, reads call
records through ``calls``, hears the calls through ``bus``, takes the dialplan's announcements into
``directory`` and asks about flows and active calls through the callables. It never sees the service itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

from voicebot.call.directory import CallDirectory
from voicebot.config import DesktopSettings, QaSettings, WebSettings
from voicebot.engines import CallQueries
from voicebot.events import Bus
from voicebot.qa.forms import ScoreForm
from voicebot.reports.build import Reports
from voicebot.store.callbacks import SqlCallbackQueue
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.qa import SqlQaStore
from voicebot.store.recordings import SqlRecordingStore
from voicebot.store.repo import StoreHealth
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.telephony.presence import PresenceDesk
from voicebot.web.auth import TokenLookup
from voicebot.web.pii import PiiAccess


ProfileLookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Desktop:
    """What the agent desktop needs (``web/desktop.py``): agents and desk actions at rest, presence in the PBX."""

    store: SqlDeskStore  # agents' queue membership, dispositions, notes, tickets, callbacks
    desk: PresenceDesk | None  # presence mirrored to Asterisk's queues; None without the PBX link (ami.enabled)
    settings: DesktopSettings
    profiles: ProfileLookup | None = None  # (flow, caller's number) -> customer profile (web/desktop.CustomerProfiles)
    callbacks: SqlCallbackQueue | None = None  # where an agent's scheduled callback is queued for the scheduler


@dataclass(frozen=True, slots=True)
class QaConsole:
    """What the QA console needs (``web/qa.py``): its records and the score card forms."""

    store: SqlQaStore  # search, corrections, score cards, examples
    forms: Mapping[str, ScoreForm]  # by name, from qa.forms_dir
    settings: QaSettings


@dataclass(frozen=True, slots=True)
class RecordingAccess:
    """What the recordings' playback needs (``web/recordings.py``): their rows and, when the service has one, the
    audit trail of playbacks."""

    store: SqlRecordingStore
    audit: Callable[[str, str, str], Awaitable[None]] | None = None  # (who, their role or "token", call id)


@dataclass(frozen=True, slots=True)
class People:
    """What the web app for people needs: who may log in, the API tokens an admin sees, the login settings."""

    users: SqlUserStore  # people, their roles, password hashes and sessions
    tokens: SqlTokenStore  # listed on the admin page
    settings: WebSettings  # session cookie and timeouts, login lockouts
    desktop: Desktop | None = None  # the agent desktop (voicebot/web/desktop.py)
    qa: QaConsole | None = None  # the QA console's corrections, score cards and search (voicebot/web/qa.py)
    tickets: SqlTicketStore | None = None  # tickets and work orders (voicebot/web/tickets.py)


@dataclass(frozen=True, slots=True)
class WebContext:
    calls: CallQueries  # the call records (read side)
    directory: CallDirectory  # announcements waiting for their call
    bus: Bus  # call events, for metrics and the dialplan's handoff lookup
    flow_names: Callable[[], list[str]]  # every loaded flow
    routable: Callable[[str], bool]  # whether an announcement may name this flow
    active_calls: Callable[[], int]  # calls in progress
    principal_for: TokenLookup  # an API token's digest -> who it is and what it may do (None: refused)
    store_health: Callable[[], Awaitable[StoreHealth]]  # ok, or degraded with records waiting in the spool
    mounts: Mapping[str, ASGIApp] = field(default_factory=dict)  # path -> app, e.g. the demo back office
    people: People | None = None  # people's logins and pages (voicebot/web/people.py); None: the API only
    inference_queued: Callable[[], int] | None = None  # jobs waiting for the inference pool (/metrics)
    stopping: Callable[[], bool] = lambda: False  # the service is draining: /healthz says 503, balancers look away
    reports: Reports | None = None  # the reports' pages and API (voicebot/web/reports.py)
    recordings: RecordingAccess | None = None  # call recordings' playback (voicebot/web/recordings.py)
    pii: PiiAccess | None = None  # unmasked originals for the roles allowed, and their audit log (web/pii.py)
