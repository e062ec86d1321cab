"""Service settings: one typed object, from ``VOICEBOT_*`` environment variables and ``voicebot.toml``.

Nested fields use a double underscore in the environment: ``VOICEBOT_AUDIOSOCKET__PORT=9093``.
Conversation behaviour is not configured here: it lives in the YAML flows under ``dialogs/``.

Paths: the defaults are absolute, in the voicebot checkout (``dialogs/``, ``models/``, ``var/``), so the
service finds the same files wherever it is started; a relative path given in a setting is relative to the
directory the service starts in. :meth:`Settings.paths` resolves them all once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from sqlalchemy.engine import make_url

from voicebot.models import DEFAULT_MODELS_DIR

CHECKOUT = DEFAULT_MODELS_DIR.parent  # the voicebot checkout: the shipped flows and models, var/ for data
VAR = CHECKOUT / "var"


class AudioSocketSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 9092
    # Peers allowed to connect (IPs or CIDR networks). Asterisk normally runs on the same host.
    allowed_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    max_calls: int = 200
    # Asterisk's app form hangs up after 2 s of no traffic: send silence when the bot has nothing to say.
    keepalive: bool = True
    # A peer that stops reading: drop the call once this much outbound audio is unsent.
    max_unsent_bytes: int = 256 * 1024
    inbound_queue_frames: int = 250  # 5 s of 20 ms frames before back-pressure applies
    # In channel-driver form with c(ulaw)/c(alaw), Asterisk labels G.711 as 0x10 (see AUDIOSOCKET.md §3.3)
    inbound_codec: Literal["auto", "slin", "ulaw", "alaw"] = "auto"
    shutdown_grace_s: float = 20.0
    # Asterisk sends the UUID within milliseconds of connecting; a silent connection is dropped after this.
    uuid_timeout_s: float = 5.0
    # After the UUID, wait this long at most for the first audio before the call handler starts, so the
    # greeting starts in the call's rate (8 kHz if none came: a silent caller may send no frames). It fixes
    # nothing: the rate follows the kind of every audio frame, whenever it comes. Keep-alive silence flows
    # meanwhile, so Asterisk answers media at once (~10 ms).
    first_audio_wait_s: float = 0.5
    # Kernel send buffer per call (0: OS default, which autotunes to MBs and hides a stalled peer for minutes).
    send_buffer_bytes: int = 64 * 1024
    # Per-call inbound limits. Asterisk sends audio in real time; a peer may send it at most this many times
    # faster (plus the burst of audio saved up, which absorbs network jitter and one 64 KB message): the rest
    # is dropped. DTMF beyond max_dtmf_per_s (burst: one second's worth) is dropped too. A call whose dropped
    # excess passes max_excess_audio_s of audio or max_excess_dtmf digits ends as a protocol error.
    max_audio_speed: float = Field(1.5, ge=1.0)
    audio_burst_s: float = Field(15.0, gt=0)
    max_excess_audio_s: float = Field(60.0, gt=0)
    max_dtmf_per_s: float = Field(20.0, gt=0)
    max_excess_dtmf: int = Field(200, gt=0)
    # Connections that have not sent their UUID yet do not count against max_calls; at most this many are
    # kept waiting (the oldest is closed for a new one), each for at most uuid_timeout_s.
    max_pending_connections: int = Field(100, ge=1)


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    # Mount the demo back office (what the demo flows call) under /demo. Off for a real deployment.
    demo_backend: bool = True
    # The demo back office's SQLite file (created and seeded if absent). None: demo.db beside the call
    # store's SQLite file (var/demo.db by default), or in var/ when the store is not SQLite.
    demo_db: Path | None = None
    # On SIGTERM the web API stays up after the calls have been handed over, until the dialplan has looked up
    # where each of them goes (GET …/handoff), at most this long: otherwise those callers fall back.
    shutdown_lookup_grace_s: float = Field(10.0, ge=0)
    # People's logins (voicebot/web/people.py): the session cookie is Secure when served over https; a
    # session ends after this long unused, and this long after login whatever happens.
    cookie_secure: bool = False
    session_idle_minutes: float = Field(30.0, gt=0)
    session_max_hours: float = Field(12.0, gt=0)
    # Failed logins lock a username (and, with more failures, a client address) for a while.
    login_max_failures: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(20, ge=1)
    login_lock_minutes: float = Field(15.0, gt=0)


class QaSettings(BaseModel):
    """The QA console (``web/qa.py``): score card forms (``voicebot/qa/forms.py``) and the call list."""

    forms_dir: Path = CHECKOUT / "dialogs" / "qa"  # every *.yaml in it is a score card form
    page_size: int = Field(25, ge=5, le=200)  # calls per page of the list


class StoreSettings(BaseModel):
    # SQLite embedded by default; PostgreSQL through the same code: postgresql+asyncpg://user@host/db
    url: str = f"sqlite+aiosqlite:///{VAR / 'voicebot.db'}"
    spool_dir: Path = VAR / "spool"  # records that could not be written wait here, then replay


class RecordingSettings(BaseModel):
    """Call recordings (``audio/recording.py``, ``call/recording.py``): one stereo file per call, caller left and
    bot right, written off the call's audio path; a flow's ``recording:`` section overrides these per flow."""

    enabled: bool = True  # every call is kept for QA; a flow's recording.enabled: false opts out
    dir: Path = VAR / "recordings"
    # wav: PCM 16-bit at the call's rate (≈ 32 KB/s at 8 kHz); opus: Ogg/Opus (≈ 4 KB/s), encoded when the call ends
    format: Literal["wav", "opus"] = "wav"
    retain_days: int = Field(90, ge=1)  # a flow's recording.retain_days overrides it; the purge job deletes after
    purge_interval_s: float = Field(3600.0, gt=0)  # how often the service deletes recordings past retention
    # Played before the greeting of a recorded call unless the flow says otherwise; "" (the default) plays none:
    # announce recording where the law asks for it, here or in the flows (docs/flows.md, recording).
    consent_prompt: str = ""
    # Frames (20 ms, either side, every call: 20 calls send 2000 a second) waiting for the writer; beyond it
    # frames are dropped, counted.
    queue_frames: int = Field(50_000, ge=1)


class SpeechSettings(BaseModel):
    asr_engine: Literal["whisper-tiny", "whisper-base", "whisper-cascade", "vosk"] = "whisper-cascade"
    vosk_model_path: Path | None = None
    asr_threads: int = 2
    # Encode only the utterance (+5 s) and reuse an encoding of silence for the rest of whisper's 30 s
    # window: 4-6x faster decodes. None: on for whisper-tiny, off for whisper-base (it loses accuracy).
    whisper_trim_encoder: bool | None = None
    whisper_beam_size: int = Field(5, ge=1, le=10)  # 1 = greedy: ≈ 15 ms faster, ≈ 15 % more errors
    # Read digits slots with the trained digit reader (models/digit_reader.npz, CTC over tiny.en's encoder);
    # off: whisper's digits grammar alone (eval/README.md, digit strings)
    digit_reader: bool = True
    # Hears a turn again when what the recogniser heard means nothing to the dialog (no request, no request
    # for a person, no value): whisper base, on those turns only (call/hearing.py); "none": never
    second_hearing: Literal["whisper-base", "none"] = "whisper-base"
    # How long a caller may wait for the second hearing (or the cascade's base); past it the first reading stands
    second_hearing_max_s: float = Field(1.2, gt=0)
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    # End of turn: silence needed after a complete-looking answer, and after an incomplete one
    end_of_turn_min_s: float = 0.35
    end_of_turn_max_s: float = 1.2
    # A pause inside a digit string shorter than the expected length (callers reading a card pause
    # between groups) may last this long before the turn ends; None: end_of_turn_max_s
    end_of_turn_digit_pause_s: float | None = Field(2.0, ge=0.0)
    # Speech that resumes this soon after the end of the caller's turn continues it ("no, ... it's 1234"):
    # the dialog answers the whole utterance instead of the first half; a pause between two sentences lasts
    # up to a second ("… nothing works. Get me a human now!"). 0 turns it off.
    turn_continuation_s: float = Field(1.5, ge=0.0)
    min_speech_s: float = 0.12  # shorter bursts (clicks, "mm") do not start a turn
    preroll_s: float = 0.2
    # Silence after which whisper decodes speculatively (the result is reused if the caller stays quiet)
    pause_s: float = 0.1
    # While the bot speaks: voiced audio needed before a quick decode checks it for real words
    barge_in_min_voiced_s: float = 0.3
    max_utterance_s: float = 30.0  # audio kept per utterance (bounds per-call memory)
    vosk_grammar: bool = False  # restrict Vosk to the flow's expected phrases when it gives some
    tts_voice: Literal["piper-joe", "espeak"] = "piper-joe"
    prompt_cache_dir: Path = VAR / "prompt-cache"
    tts_length_scale: float = Field(1.0, gt=0.5, lt=2.0)  # < 1 speaks faster
    tts_threads: int = 1  # onnxruntime intra-op threads per synthesis; parallelism comes from the pool


class DialogSettings(BaseModel):
    dir: Path = CHECKOUT / "dialogs"
    default_flow: str = "banking"  # the flow of a call whose dialled number has no route (logged as such)
    hot_reload: bool = True
    # Overrides every bundle's `backend:` URL when set. Bundles may write "{service}/…" for this
    # voicebot's own web address (the demo flows call the demo backend that way).
    backend_url: str | None = None
    # Dialled number (the dialplan's announcement) -> flow name
    routes: dict[str, str] = Field(default_factory=dict)
    # Bundles no call reaches unless default_flow or a route names them (the announcement's flow= cannot):
    # the `example` template is not a service.
    hidden_flows: list[str] = Field(default_factory=lambda: ["example"])
    # When the dialog has not answered after this long (a slow backend), the caller hears "One moment,
    # please." instead of silence; 0 turns it off.
    filler_after_s: float = Field(1.0, ge=0)


class EventsSettings(BaseModel):
    """The call event bus (``voicebot/events.py``)."""

    # memory: this process only; redis: pub/sub, so every worker's subscribers hear every worker's calls
    # (each worker still records its own calls, in process)
    bus: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_channel: str = "voicebot:events"
    # Events a subscriber (metrics, a desktop) may fall behind before it loses the oldest; the recorder loses none
    queue_size: int = Field(1000, ge=1)


class ReportSettings(BaseModel):
    """The reports (``voicebot/reports/``, docs/reports.md): the web pages, CSV export and ``voicebot report``."""

    # Service level: a caller answered within this many seconds of joining the queue; per bot queue name in
    # queue_service_level_s (e.g. {"cards": 30}), service_level_s for the others.
    service_level_s: float = Field(20.0, gt=0)
    queue_service_level_s: dict[str, float] = {}
    # Strict containment: a call served by the bot counts as contained only if its number did not call again
    # within this many hours (Dialogflow CX counts 24).
    repeat_window_h: float = Field(24.0, gt=0)
    default_days: int = Field(7, ge=1)  # the period a report covers when no --from is given


class AmiSettings(BaseModel):
    """Asterisk Manager Interface: call and queue control (``telephony/ami.py``); asterisk/manager.conf's
    ``[voicebot-control]`` user. Off unless ``enabled``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "voicebot-control"
    secret: SecretStr = SecretStr("")
    # After a lost connection: wait reconnect_min_s, doubling up to reconnect_max_s while attempts fail.
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    action_timeout_s: float = Field(10.0, gt=0)  # an action (or the login) not answered in this time fails
    ping_interval_s: float = Field(20.0, ge=0)  # a Ping on an idle connection finds a dead peer; 0: off


class DesktopSettings(BaseModel):
    """The agent desktop (``web/desktop.py``) and agent presence in Asterisk's queues (``telephony/presence.py``)."""

    # After a call the agent is in wrap-up (paused in the queues) this long, then available again; per bot
    # queue name in queue_wrapup_s (e.g. {"cards": 60}), wrapup_s for the others.
    wrapup_s: float = Field(30.0, ge=0)
    queue_wrapup_s: dict[str, float] = {}
    # What an agent may record as a call's outcome.
    dispositions: list[str] = ["resolved", "follow-up needed", "transferred", "wrong number", "complaint"]
    # The call centre's time zone (IANA name): the time an agent gives a scheduled callback is read in it.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Europe/Berlin)") from None
        return value
    # Asterisk queue = prefix + bot queue name (asterisk/extensions.conf's VOICEBOT_QUEUE_PREFIX).
    queue_prefix: str = "voicebot-"
    # The agent's spoken briefing (call/briefing.py): for handoffs to these bot queues, the bot's voice speaks a
    # one-line summary into briefing_dir/<call uuid>.wav (a directory Asterisk reads; the dialplan plays it to
    # the member before bridging); files older than briefing_keep_s are removed. Empty list or no dir: off.
    briefing_queues: list[str] = []
    briefing_dir: Path | None = None
    briefing_keep_s: float = Field(3600.0, gt=0)


class CallbackSettings(BaseModel):
    """Callbacks that keep the caller's place (``telephony/callbacks.py``): run when ``ami.enabled``."""

    # The customer's leg: {number} is the caller's number; the answered call runs context,s (extensions.conf's
    # [voicebot-callback], which Queue()s it at its place with its priority).
    channel: str = "Local/{number}@voicebot-outbound"
    context: str = "voicebot-callback"
    caller_id: str = ""
    ring_timeout_s: float = Field(30.0, gt=0)
    poll_interval_s: float = Field(5.0, gt=0)  # how often the queues' state is read while callbacks wait
    # Dials of one request in all: a dial cut short by a restart is tried again at the request's place until then.
    max_attempts: int = Field(3, ge=1)


class PiiSettings(BaseModel):
    """Personal data in what callers say (``nlu/pii.py``), its encrypted originals and the words the bot never says."""

    # Mask card, account, PIN, phone, e-mail, date-of-birth and national-id numbers in everything kept or published
    mask: bool = True
    kinds: list[Literal["card", "account", "pin", "phone", "email", "dob", "national_id"]] = [
        "card", "account", "pin", "phone", "email", "dob", "national_id"]
    phone_regions: list[str] = ["US", "GB"]  # a digit run valid as a number of these regions is a phone number
    national_id_patterns: list[str] = []  # more national-id regular expressions (case-insensitive)
    min_account_digits: int = Field(8, ge=5)  # a longer run of digits with no other reading is an account number
    # Keep the clear text of masked turns, encrypted with key (a Fernet key: voicebot pii key), for admins (and
    # QA when qa_reads_unmasked); every read is written to the audit log.
    keep_unmasked: bool = False
    key: SecretStr = SecretStr("")
    qa_reads_unmasked: bool = False
    # Words the bot never says (every flow; a flow adds its own sensitive_words); caller turns with them are flagged
    sensitive_words: list[str] = []


class Settings(BaseSettings):
    """Everything the service needs to start. Defaults give the embedded demo (SQLite, demo flows)."""

    model_config = SettingsConfigDict(
        env_prefix="VOICEBOT_", env_nested_delimiter="__", toml_file="voicebot.toml", extra="ignore"
    )

    reports: ReportSettings = ReportSettings()
    audiosocket: AudioSocketSettings = AudioSocketSettings()
    web: WebSettings = WebSettings()
    qa: QaSettings = QaSettings()
    recordings: RecordingSettings = RecordingSettings()
    store: StoreSettings = StoreSettings()
    speech: SpeechSettings = SpeechSettings()
    dialog: DialogSettings = DialogSettings()
    ami: AmiSettings = AmiSettings()
    events: EventsSettings = EventsSettings()
    desktop: DesktopSettings = DesktopSettings()
    callbacks: CallbackSettings = CallbackSettings()
    pii: PiiSettings = PiiSettings()
    models_dir: Path = DEFAULT_MODELS_DIR  # manifest.toml, trained artifacts, cache/
    # Workers for model inference (ASR, TTS, embeddings); they release the GIL.
    inference_workers: int = 2
    log_level: str = "INFO"
    log_json: bool = False
    # This worker's name on every log line (several workers share a log store); None: <host name>-<pid>
    worker_id: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def paths(self) -> ServicePaths:
        """Every file and directory the service uses, absolute (relative settings resolved against the
        working directory, once)."""
        url = make_url(self.store.url)
        sqlite_file = Path(url.database).absolute() if url.get_backend_name() == "sqlite" and url.database \
            and url.database != ":memory:" else None
        if sqlite_file is not None:
            url = url.set(database=str(sqlite_file))
        demo_db = self.web.demo_db or (sqlite_file.parent if sqlite_file else VAR) / "demo.db"
        models = self.models_dir.absolute()
        return ServicePaths(flows=self.dialog.dir.absolute(), models=models, model_cache=models / "cache",
                            prompt_cache=self.speech.prompt_cache_dir.absolute(),
                            store_url=url.render_as_string(hide_password=False),
                            spool=self.store.spool_dir.absolute(), demo_db=demo_db.absolute())


@dataclass(frozen=True, slots=True)
class ServicePaths:
    """Where the service reads and writes, from :class:`Settings`."""

    flows: Path  # the YAML flow bundles
    models: Path  # manifest.toml and trained artifacts
    model_cache: Path  # joined models, embedding exports, trained intent classifiers
    prompt_cache: Path  # rendered prompts
    store_url: str  # call records
    spool: Path  # records waiting for the database
    demo_db: Path  # the demo back office's SQLite file
