"""Composition root: builds the engines, flows, store and servers from Settings, and runs them.

Models load here once, warm up, and are shared by every call. Nothing else in the code base decides
which implementation of an engine to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn
from sqlalchemy.engine import make_url

from voicebot.audio.server import AudioSocketServer, CallConnection
from voicebot.call.bus_redis import RedisEventBus
from voicebot.call.callbacks import CallbackOffer, TicketRequest
from voicebot.call.directory import CallDirectory, CallInfo, FlowRouter, MemoryCallDirectory
from voicebot.call.directory_redis import RedisCallDirectory
from voicebot.call.events import EventBus
from voicebot.call.recording import Recordings, policy_for
from voicebot.call.routing import RoutingPlan, plan_from_spec
from voicebot.call.session import APOLOGY, FILLER, SHUTDOWN_NOTICE, CallServices, CallSession, DialogApp
from voicebot.config import AmiSettings, EventsSettings, RecordingSettings, Settings
from voicebot.demo.backend import create_demo_app
from voicebot.dialog.actions import ActionRunner, default_registry
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import Bundle, FlowProblem, FlowRegistry
from voicebot.dialog.schema import survey_questions
from voicebot.events import Bus
from voicebot.logs import call_logging, configure_logging, default_worker_id, mask_logged_text
from voicebot.models import resolve
from voicebot.nlu.build import build_nlu
from voicebot.nlu.embeddings import MiniLmEmbedder
from voicebot.nlu.emotion import EmotionClassifier
from voicebot.nlu.pii import masker_for
from voicebot.qa.forms import load_forms
from voicebot.reports.build import Reports
from voicebot.reports.recorder import QueueRecorder
from voicebot.runtime import InferencePool, return_large_buffers_to_the_os
from voicebot.speech.asr import load_recognizer, load_second_hearing, warm_up_recognizers
from voicebot.speech.tts import Speaker, load_synthesizer
from voicebot.store.audit import SqlPiiVault, sealer_for
from voicebot.store.callbacks import SqlCallbackQueue
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.presence import SqlPresenceStore
from voicebot.store.qa import SqlQaStore
from voicebot.store.queries import SqlCallQueries
from voicebot.store.recorder import CallRecorder
from voicebot.store.reports import SqlReportStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.telephony.ami import AmiClient
from voicebot.telephony.callbacks import CallbackScheduler
from voicebot.telephony.presence import PresenceDesk
from voicebot.web.app import create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import Desktop, People, QaConsole, RecordingAccess, WebContext
from voicebot.web.desktop import CustomerProfiles
from voicebot.web.pii import PiiAccess

log = structlog.get_logger(__name__)


@dataclass
class DialogApps:
    """Builds a DialogApp per flow bundle version (NLU trained or read from cache); hot reload safe."""

    flows: FlowRegistry
    embedder: MiniLmEmbedder
    emotion: EmotionClassifier
    pool: InferencePool
    actions: ActionRunner
    cache_dir: Path
    router: FlowRouter
    recordings: RecordingSettings = field(default_factory=RecordingSettings)  # defaults of the flows' recording:
    _built: dict[tuple[str, str], DialogApp] = field(default_factory=dict)

    def build(self, bundle: Bundle) -> DialogApp:
        key = (bundle.name, bundle.version)
        if key not in self._built:
            started = time.perf_counter()
            nlu = build_nlu(bundle, self.embedder, self.emotion, self.pool, self.cache_dir)
            self._built[key] = DialogApp(bundle.name, bundle.version, DialogEngine(bundle, self.actions), nlu,
                                         bundle.sensitive, plan_from_spec(bundle.spec.routing),
                                         policy_for(bundle, self.recordings),
                                         surveys=survey_questions(bundle.spec.flows),
                                         sensitive_words=tuple(bundle.spec.sensitive_words))
            log.info("flow ready", flow=bundle.name, version=bundle.version,
                     seconds=round(time.perf_counter() - started, 2))
        return self._built[key]

    def build_all(self) -> None:
        for name in self.flows.names():
            self.build(self.flows.get(name))

    def for_call(self, info: CallInfo) -> DialogApp:
        """The flow for this call (see :class:`FlowRouter`)."""
        return self.build(self.flows.get(self.router.choose(info, self.flows.names())))


class VoicebotService:
    """The running service: AudioSocket server, web server, flows hot reload, graceful shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = settings.paths()
        self.router = FlowRouter(settings.dialog.default_flow, dict(settings.dialog.routes),
                                 frozenset(settings.dialog.hidden_flows))
        self.pool = InferencePool(settings.inference_workers)
        self.directory = open_directory(settings)
        self._stopping = asyncio.Event()

    @property
    def web_url(self) -> str:
        """This service's own web address, as local clients reach it."""
        host = self.settings.web.host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{host}:{self.settings.web.port}"

    def _profile_backend(self, flow: str) -> str | None:
        """Where the pop reads a customer profile for a call of ``flow``: the flow's back office (as its webhooks
        reach it), the demo back office for a flow without one, nothing otherwise."""
        backend = self.flows.get(flow).spec.backend if flow in self.flows.names() else None
        base = self.settings.dialog.backend_url or backend or ("{service}/demo" if self.settings.web.demo_backend
                                                               else None)
        return base.replace("{service}", self.web_url) if base else None

    async def start(self) -> None:
        s, paths = self.settings, self.paths
        started = time.perf_counter()
        log.info("paths", flows=str(paths.flows), models=str(paths.models), model_cache=str(paths.model_cache),
                 prompt_cache=str(paths.prompt_cache), store=make_url(paths.store_url).render_as_string(),
                 spool=str(paths.spool), demo_db=str(paths.demo_db))
        self.flows = FlowRegistry.load(paths.flows, s.pii.sensitive_words)  # no prompt says a sensitive word
        self.router.check(self.flows.names())
        self.bus = await open_bus(s.events)
        self.store = await SqlCallStore.open(paths.store_url, paths.spool)
        self.queries = SqlCallQueries(self.store.engine)
        self.tokens = SqlTokenStore(self.store.engine)
        self.vault = SqlPiiVault(self.store.engine, sealer_for(s.pii))  # unmasked originals (pii.keep_unmasked)
        self.telephony = await open_telephony(s.ami)  # call and queue control: agent presence for now
        self.desk = PresenceDesk(self.telephony, s.desktop, self.bus, SqlPresenceStore(self.store.engine)) \
            if self.telephony is not None else None  # presence shared over the bus, saved for a restart
        # Asterisk's queue events and the agents' states, kept for the queue and agent reports (AMI only)
        self._queue_events = asyncio.create_task(QueueRecorder(
            self.telephony, self.desk, SqlReportStore(self.store.engine), s.desktop.queue_prefix).run(),
            name="queue-events") if self.telephony is not None else None
        # Callbacks that keep the caller's place (AMI only): flows offer them (queue_wait, request_callback);
        # the scheduler dials each when its turn comes in the queue.
        callbacks = SqlCallbackQueue(self.store.engine)
        typed = masker.mask if (masker := masker_for(s.pii)) is not None else None  # PII in what people type
        functions = TicketRequest(SqlTicketStore(self.store.engine, typed), SqlDeskStore(self.store.engine, typed)
                                  ).register(default_registry())
        if self.telephony is not None:
            offer = CallbackOffer(self.telephony, callbacks, self._routing_plan, s.desktop.queue_prefix)
            offer.register(functions)
        self._callbacks_task = asyncio.create_task(CallbackScheduler(
            callbacks, self.telephony, s.callbacks, s.desktop.queue_prefix,
            s.ami.action_timeout_s).run(), name="callbacks") if self.telephony is not None else None
        # The agent desktop; its pop reads the customer profile from the flow's back office (this process's demo
        # back office answers the desk_key only).
        self.desk_key = secrets.token_urlsafe(24)
        self.profiles = CustomerProfiles(self._profile_backend, self.web_url, self.desk_key)
        desktop = Desktop(SqlDeskStore(self.store.engine, typed), self.desk, s.desktop, self.profiles.lookup,
                          callbacks)
        qa = QaConsole(SqlQaStore(self.store.engine, typed), load_forms(s.qa.forms_dir.absolute()),
                       s.qa)  # the QA console
        self.people = People(SqlUserStore(self.store.engine), self.tokens, s.web, desktop, qa=qa,  # people's web pages
                             tickets=SqlTicketStore(self.store.engine, typed))
        self.reports = Reports(SqlReportStore(self.store.engine), s.reports)  # the reports' pages and API
        self.recorder = CallRecorder.start(self.bus, self.store, self.vault)  # the session publishes; this writes
        recognizer = load_recognizer(s, self.pool)
        second_hearing = load_second_hearing(s, self.pool, recognizer)
        synthesizer = load_synthesizer(s, self.pool)
        self.speaker = Speaker(synthesizer, paths.prompt_cache, self.pool)
        embedder = MiniLmEmbedder.load(resolve("embeddings", paths.models), paths.model_cache / "embeddings")
        emotion = EmotionClassifier.load(resolve("emotion", paths.models), paths.model_cache / "emotion")
        self.dialogs = DialogApps(
            flows=self.flows, embedder=embedder, emotion=emotion, pool=self.pool,
            actions=ActionRunner(functions, base_url=s.dialog.backend_url, service_url=self.web_url),
            cache_dir=paths.model_cache / "intents", router=self.router, recordings=s.recordings)
        await self.pool.run(self.dialogs.build_all)
        prompts = {APOLOGY, SHUTDOWN_NOTICE, FILLER}
        for name in self.flows.names():
            prompts.update(self.flows.get(name).static_prompts())
            prompts.update(self.dialogs.build(self.flows.get(name)).recording.prompts())  # the recording consent
        rendered = await self.speaker.prerender(sorted(prompts), 8000)

        def warm_up() -> None:
            warm_up_recognizers(recognizer, second_hearing)
            synthesizer.warm_up()
            embedder.embed(["I would like to check the balance of my account, please."])

        await self.pool.on_every_thread(warm_up)  # the first caller pays no thread's first-use costs
        # Call recordings (call/recording.py): written off the calls' audio path; retention enforced by a job
        self.recordings = Recordings(s.recordings, self.store.engine)
        self._retention_task = asyncio.create_task(self.recordings.run_retention(), name="recordings-retention")
        self.playback = RecordingAccess(self.recordings.store, self.recordings.store.audit_playback)  # for the web
        self.services = CallServices(settings=s, recognizer=recognizer, speaker=self.speaker, bus=self.bus,
                                     dialog_for=self.dialogs.for_call, directory=self.directory,
                                     recordings=self.recordings, second_hearing=second_hearing)
        self.audiosocket = AudioSocketServer(s.audiosocket, self._handle_call)
        await self.audiosocket.start()
        web_app = create_app(web_context(self))
        # log_config=None: uvicorn's loggers keep no handlers of their own, so their lines reach the root logger
        # and come out like every other line (JSON with the worker under log_json)
        config = uvicorn.Config(web_app, host=s.web.host, port=s.web.port, log_level="warning", lifespan="on",
                                log_config=None)
        self.web = WebServer(config)
        self._web_task = asyncio.create_task(self.web.serve(), name="web")
        self._reload_task = asyncio.create_task(self._watch_flows(), name="flows-reload") \
            if s.dialog.hot_reload else None
        # Everything loaded so far (models, tokenizers, flows) lives as long as the service: move it out of
        # the collector's reach, or a full collection walks it all and stalls every call's audio ≈ 100 ms.
        gc.collect()
        gc.freeze()
        log.info("voicebot ready", audiosocket=f"{s.audiosocket.host}:{self.audiosocket.port}",
                 web=f"http://{s.web.host}:{s.web.port}", flows=self.flows.names(), prompts_rendered=rendered,
                 seconds=round(time.perf_counter() - started, 1))

    def _routing_plan(self, flow: str) -> RoutingPlan:
        """The routing plan of a flow bundle (its ``routing:`` section), as it is now."""
        return plan_from_spec(self.flows.get(flow).spec.routing)

    async def _handle_call(self, connection: CallConnection) -> None:
        with call_logging(connection.call_id):  # every line of the call, whichever module, names it
            await CallSession(self.services, connection).run()

    async def _watch_flows(self) -> None:
        def reloaded(problems: list[FlowProblem]) -> None:
            errors = [p for p in problems if p.severity == "error"]
            if errors:  # one structured record per rejected edit
                log.error("flow edit rejected; running flows kept", errors=len(errors),
                          problems=[{"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                                    for p in errors])
            else:
                for problem in problems:
                    log.warning("flow warning", file=problem.file, line=problem.line, problem=problem.message)
                log.info("flows reloaded", flows=self.flows.names(),
                         versions={name: self.flows.get(name).version for name in self.flows.names()})
                asyncio.get_running_loop().run_in_executor(None, self.dialogs.build_all)

        await self.flows.watch(1.0, reloaded, required=self.router.required())

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self._stopping.set)
        await self._stopping.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    def stopping(self) -> bool:
        """Whether the service is draining (its calls end, no new one is taken)."""
        return self._stopping.is_set()

    async def stop(self) -> None:
        """Stop accepting calls, let calls end or hand them to a human, flush records, exit."""
        self._stopping.set()  # /healthz answers 503 from now on
        log.info("shutting down", active_calls=self.audiosocket.active_calls)
        handed_over = self.audiosocket.call_ids()
        await self.audiosocket.stop(self.settings.audiosocket.shutdown_grace_s)
        if self._reload_task:
            self._reload_task.cancel()
        if handed_over:  # the dialplan asks where each call goes once the bot has let go: keep answering
            missed = await self.directory.wait_for_lookups(handed_over, self.settings.web.shutdown_lookup_grace_s)
            log.info("handoff lookups after shutdown", calls=len(handed_over), not_looked_up=len(missed))
        self.web.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._web_task, 5)
        if self._callbacks_task is not None:
            self._callbacks_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._callbacks_task
        if self._queue_events is not None:
            self._queue_events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._queue_events
        if self.telephony is not None:
            await self.telephony.close()
        await self.profiles.aclose()
        await self.directory.close()
        await self.bus.close()  # every call has published its end: the recorder takes what is left
        self._retention_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # a purge round cancelled mid-query ends before the store
            await self._retention_task
        await self.recordings.close()  # the calls' recordings finished and their rows written
        await self.recorder.close()
        await self.store.close()
        self.pool.shutdown()
        log.info("stopped")


class WebServer(uvicorn.Server):
    """uvicorn without signal handling of its own: the service owns SIGTERM/SIGINT, and the web API is the
    last thing it stops (the dialplan still looks up calls handed over during shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def open_telephony(settings: AmiSettings) -> AmiClient | None:
    """The AMI client when ``ami.enabled``, connecting in the background: an Asterisk that is down (or
    refuses the login, which is logged) does not stop the service."""
    if not settings.enabled:
        return None
    client = AmiClient(settings)
    await client.start(wait=False)
    return client


async def open_bus(settings: EventsSettings) -> Bus:
    """The call event bus the settings name: in process, or Redis pub/sub shared by several workers."""
    if settings.bus == "redis":
        return await RedisEventBus.open(settings.redis_url, settings.redis_channel, queue_size=settings.queue_size)
    return EventBus(settings.queue_size)


def open_directory(settings: Settings) -> CallDirectory:
    """Where announcements wait for their call and handoff lookups are noted: in this process, or in Redis
    with the Redis bus (a call's announcement, AudioSocket connection and lookup may reach different workers)."""
    if settings.events.bus == "redis":
        return RedisCallDirectory.open(settings.events.redis_url, settings.events.redis_channel,
                                       wait_s=settings.audiosocket.first_audio_wait_s)
    return MemoryCallDirectory()


def web_context(service: VoicebotService) -> WebContext:
    """What the web app may see of the service; the demo back office under ``/demo`` when configured."""
    mounts = {"/demo": create_demo_app(service.paths.demo_db, desk_key=service.desk_key)} \
        if service.settings.web.demo_backend else {}
    return WebContext(calls=service.queries, directory=service.directory, bus=service.bus,
                      flow_names=lambda: service.flows.names(), routable=service.router.routable,
                      active_calls=lambda: service.audiosocket.active_calls,
                      principal_for=store_lookup(service.tokens), store_health=service.store.health,
                      mounts=mounts, people=service.people, inference_queued=lambda: service.pool.queued,
                      stopping=service.stopping,
                      recordings=service.playback,
                      reports=service.reports,
                      pii=PiiAccess(service.vault, service.settings.pii.qa_reads_unmasked))


async def serve(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_json, worker_id=settings.worker_id or default_worker_id())
    if (masker := masker_for(settings.pii)) is not None:
        mask_logged_text(masker.mask)  # no caller's card, phone or e-mail in a log line either
    faulthandler.enable()  # a fatal signal (SIGSEGV, SIGBUS from a native library) still leaves a line
    return_large_buffers_to_the_os()
    service = VoicebotService(settings)
    await service.start()
    await service.run_until_stopped()
