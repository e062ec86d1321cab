"""Composition root: builds the engines, flows, store and servers from Settings, and runs them.

Models load here once, warm up, and are shared by every call. Nothing else in the code base decides
which implementation of an engine to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn

from voicebot.audio.server import AudioSocketServer, CallConnection
from voicebot.call.directory import CallDirectory, CallInfo
from voicebot.call.events import EventBus
from voicebot.call.session import APOLOGY, SHUTDOWN_NOTICE, CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import Bundle, FlowProblem, FlowRegistry
from voicebot.logs import configure_logging
from voicebot.nlu.embeddings import MiniLmEmbedder
from voicebot.nlu.emotion import EmotionClassifier
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.understand import Nlu
from voicebot.runtime import InferencePool, return_large_buffers_to_the_os
from voicebot.speech.asr import load_recognizer
from voicebot.speech.tts import Speaker, load_synthesizer
from voicebot.store.repo import SqlCallStore

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
    default_flow: str
    routes: dict[str, str]
    _built: dict[tuple[str, str], DialogApp] = field(default_factory=dict)

    def build(self, bundle: Bundle) -> DialogApp:
        key = (bundle.name, bundle.version)
        if key not in self._built:
            started = time.perf_counter()
            classifier = IntentClassifier.train(bundle.intents, self.embedder, cache_dir=self.cache_dir,
                                                oos_examples=bundle.oos_examples)
            nlu = Nlu(classifier, bundle.slot_types, self.emotion, self.pool)
            self._built[key] = DialogApp(bundle.name, bundle.version, DialogEngine(bundle, self.actions), nlu)
            log.info("flow ready", flow=bundle.name, version=bundle.version,
                     seconds=round(time.perf_counter() - started, 2))
        return self._built[key]

    def build_all(self) -> None:
        for name in self.flows.names():
            self.build(self.flows.get(name))

    def for_call(self, info: CallInfo) -> DialogApp:
        """The flow for this call: the one the dialplan named, else the dialled number's route, else the default."""
        name = info.flow or self.routes.get(info.dnis, self.default_flow)
        if name not in self.flows.names():
            log.warning("unknown flow for call; using the default", flow=name, default=self.default_flow)
            name = self.default_flow
        return self.build(self.flows.get(name))


class VoicebotService:
    """The running service: AudioSocket server, web server, flows hot reload, graceful shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = InferencePool(settings.inference_workers)
        self.bus = EventBus()
        self.directory = CallDirectory()
        self._stopping = asyncio.Event()

    @property
    def web_url(self) -> str:
        """This service's own web address, as local clients reach it."""
        host = self.settings.web.host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{host}:{self.settings.web.port}"

    async def start(self) -> None:
        s = self.settings
        started = time.perf_counter()
        Path("var").mkdir(exist_ok=True)
        self.flows = FlowRegistry.load(s.dialog.dir)
        self.store = await SqlCallStore.open(s.store.url, s.store.spool_dir)
        recognizer = load_recognizer(s, self.pool)
        synthesizer = load_synthesizer(s, self.pool)
        self.speaker = Speaker(synthesizer, s.speech.prompt_cache_dir, self.pool)
        embedder = MiniLmEmbedder.load()
        self.dialogs = DialogApps(
            flows=self.flows, embedder=embedder, emotion=EmotionClassifier.load(embedder), pool=self.pool,
            actions=ActionRunner(base_url=s.dialog.backend_url, service_url=self.web_url), cache_dir=s.models_dir / "cache" / "intents",
            default_flow=s.dialog.default_flow, routes=s.dialog.routes)
        await self.pool.run(self.dialogs.build_all)
        prompts = {APOLOGY, SHUTDOWN_NOTICE}
        for name in self.flows.names():
            prompts.update(self.flows.get(name).static_prompts())
        rendered = await self.speaker.prerender(sorted(prompts), 8000)

        def warm_up() -> None:
            recognizer.warm_up()
            synthesizer.warm_up()
            embedder.embed(["I would like to check the balance of my account, please."])

        await self.pool.on_every_thread(warm_up)  # the first caller pays no thread's first-use costs
        self.services = CallServices(settings=s, recognizer=recognizer, speaker=self.speaker, store=self.store,
                                     bus=self.bus, dialog_for=self.dialogs.for_call, directory=self.directory)
        self.audiosocket = AudioSocketServer(s.audiosocket, self._handle_call)
        await self.audiosocket.start()
        from voicebot.web.app import create_app

        web_app = create_app(self)
        config = uvicorn.Config(web_app, host=s.web.host, port=s.web.port, log_level="warning", lifespan="on")
        self.web = uvicorn.Server(config)
        self.web.install_signal_handlers = lambda: None  # the service owns SIGTERM/SIGINT
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

    async def _handle_call(self, connection: CallConnection) -> None:
        await CallSession(self.services, connection).run()

    async def _watch_flows(self) -> None:
        def reloaded(problems: list[FlowProblem]) -> None:
            if problems:
                for problem in problems:
                    log.error("flow edit rejected; running flows kept", file=problem.file, line=problem.line,
                              column=problem.column, problem=problem.message)
            else:
                log.info("flows reloaded", flows=self.flows.names())
                asyncio.get_running_loop().run_in_executor(None, self.dialogs.build_all)

        await self.flows.watch(1.0, reloaded)

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self._stopping.set)
        await self._stopping.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self) -> None:
        """Stop accepting calls, let calls end or hand them to a human, flush records, exit."""
        log.info("shutting down", active_calls=self.audiosocket.active_calls)
        await self.audiosocket.stop(self.settings.audiosocket.shutdown_grace_s)
        if self._reload_task:
            self._reload_task.cancel()
        self.web.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._web_task, 5)
        await self.store.close()
        self.pool.shutdown()
        log.info("stopped")


async def serve(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_json)
    return_large_buffers_to_the_os()
    service = VoicebotService(settings)
    await service.start()
    await service.run_until_stopped()
