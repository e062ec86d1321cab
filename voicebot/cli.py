"""The ``voicebot`` command: serve, call, chat, test, validate, graph, eval, bench, models, db, token, user, qa."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
eval_app = typer.Typer(no_args_is_help=True, help="Accuracy runs (WER, intents, emotion). Print figures; --json for machines.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed runs (TTS, calls). Print figures; --json for machines.")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
db_app = typer.Typer(no_args_is_help=True, help="The call record database: its schema, through migrations.")
app.add_typer(db_app, name="db")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for machine clients (the dialplan, scripts).")
app.add_typer(token_app, name="token")
user_app = typer.Typer(no_args_is_help=True, help="People who log in to the web app, with a role.")
app.add_typer(user_app, name="user")
qa_app = typer.Typer(no_args_is_help=True, help="The QA console's records: corrected turns as training examples.")
app.add_typer(qa_app, name="qa")

# Each command is a thin wrapper: parse options, call into the module that owns the concern.
# Heavy imports happen inside the commands so `voicebot --help` stays instant.


@app.command()
def serve(
    audiosocket_port: int = typer.Option(None, help="Override VOICEBOT_AUDIOSOCKET__PORT (default 9092)."),
    web_port: int = typer.Option(None, help="Override VOICEBOT_WEB__PORT (default 8080)."),
    flow: str = typer.Option(None, help="Default flow for calls (default: dialog.default_flow)."),
) -> None:
    """Run the service: AudioSocket for Asterisk, web API, flows with hot reload, call records."""
    import asyncio

    from voicebot.app import serve as run_service
    from voicebot.config import Settings
    from voicebot.dialog.loader import FlowLoadError
    from voicebot.models import ModelMissing

    settings = Settings()
    if audiosocket_port is not None:
        settings.audiosocket.port = audiosocket_port
    if web_port is not None:
        settings.web.port = web_port
    if flow is not None:
        settings.dialog.default_flow = flow
    try:
        asyncio.run(run_service(settings))
    except ModelMissing as missing:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(2) from None
    except FlowLoadError as failed:
        for problem in failed.problems:
            typer.echo(f"{problem.file}:{problem.line}:{problem.column}: {problem.message}", err=True)
        typer.echo("error: the flows have problems (see above); nothing was started", err=True)
        raise typer.Exit(2) from None



@app.command()
def call(
    script: Path = typer.Argument(None, exists=True, dir_okay=False,
                                  help="Caller script (YAML). Default: wait for the greeting, hang up."),
    host: str = typer.Option("127.0.0.1", help="AudioSocket server host."),
    port: int = typer.Option(9092, help="AudioSocket server port."),
    calls: int = typer.Option(1, min=1, help="Concurrent calls; prints p50/p95 latency, gaps, errors."),
    stagger: float = typer.Option(0.0, min=0.0, help="Seconds between call starts."),
    rate: int = typer.Option(8000, help="Caller audio rate: 8000 (0x10) or 16000 (0x12, slin16 channel)."),
    record: Path = typer.Option(None, file_okay=False, help="Write <uuid>.wav per call (caller left, bot right)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of tables."),
    timeout: float = typer.Option(120.0, help="Give up on a call after this many seconds."),
    web: str = typer.Option(None, help="voicebot's web API (e.g. http://127.0.0.1:8080): announce each call "
                                       "(caller id, dnis, flow) and look up the handoff, as the dialplan does."),
    api_token: str = typer.Option(None, envvar="VOICEBOT_API_TOKEN",
                                  help="The dialplan's API token for --web (`voicebot token create … --scope "
                                       "dialplan`)."),
    no_silence_frames: bool = typer.Option(False, "--no-silence-frames",
                                           help="Send no frames while the caller is silent, as Asterisk does with "
                                                "Local channels and phones with silence suppression."),
    first_audio_after: float = typer.Option(None, min=0.0,
                                            help="Send no audio for this many seconds after the UUID (with --rate "
                                                 "16000: a slin16 channel whose first 0x12 frame comes late)."),
) -> None:
    """Caller simulator: behave like Asterisk toward an AudioSocket server and measure the bot."""
    from voicebot.caller.simulator import run_cli

    raise typer.Exit(run_cli(script, host, port, calls, stagger, rate, record, json_out, timeout, web,
                             silence_frames=False if no_silence_frames else None,
                             first_audio_after=first_audio_after, api_token=api_token))


@app.command("demo-backend")
def demo_backend(
    db: Path = typer.Option(None, dir_okay=False,
                            help="SQLite file, created and seeded if absent (default: VOICEBOT_WEB__DEMO_DB)."),
    host: str = typer.Option("127.0.0.1", help="Listen address."),
    port: int = typer.Option(8081, help="Listen port (the main service mounts the same app under /demo)."),
) -> None:
    """Run the demo back office (bank, shop, parcels, city hotline) alone, for the demo flows."""
    import uvicorn

    from voicebot.config import Settings
    from voicebot.demo.backend import create_demo_app

    uvicorn.run(create_demo_app(db or Settings().paths().demo_db), host=host, port=port)


@app.command()
def report(
    name: list[str] = typer.Argument(..., help="containment, outcomes, handoffs, intents, handle-time, csat, "
                                              "emotions, queues, agents, latency; several, or all."),
    start: str = typer.Option(None, "--from", help="First day (2026-12-01) or time, UTC; default: "
                                                   "VOICEBOT_REPORTS__DEFAULT_DAYS before --to."),
    end: str = typer.Option(None, "--to", help="Last day, included (or a time, excluded), UTC; default: now."),
    flow: str = typer.Option(None, help="Only this flow's calls."),
    queue: str = typer.Option(None, help="Only this queue (the queue and agent reports, the handoffs)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (one report: an object; several: a list)."),
    csv_out: bool = typer.Option(False, "--csv", help="Print CSV."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Reports from the call records: containment (raw and strict), handoff reasons, intents, handle time, CSAT,
    emotion, per queue and per agent service level, and reply latency per stage (docs/reports.md)."""
    import asyncio

    from voicebot.config import Settings
    from voicebot.reports.command import as_csv, as_json, as_text, reports_at

    try:
        built = asyncio.run(reports_at(_store_url(url), name, Settings().reports, start, end, flow, queue))
    except KeyError as unknown:
        typer.echo(f"error: no report {unknown}; reports: containment, outcomes, handoffs, intents, handle-time, "
                   "csat, emotions, queues, agents, latency, all", err=True)
        raise typer.Exit(2) from None
    except ValueError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    typer.echo(as_json(built) if json_out else as_csv(built) if csv_out else as_text(built), nl=not csv_out)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Migrate up to this revision (default: the newest)."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Apply the schema migrations (the service also does at start-up); adopts a database made before them."""
    import asyncio

    from voicebot.config import Settings
    from voicebot.store import database

    reached = asyncio.run(database.upgrade_url(url or Settings().paths().store_url, revision))
    typer.echo(f"call record database at revision {reached}")


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="Who uses it, e.g. asterisk."),
    scope: list[str] = typer.Option(..., "--scope", "-s", help="dialplan (announce, handoff lookup), read "
                                    "(calls, transcripts), admin (everything); repeat for several."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Create a token and print its secret once (only its SHA-256 is stored)."""
    import asyncio

    from voicebot.web import auth

    try:
        token = asyncio.run(auth.create_token_at(_store_url(url), name, auth.parse_scopes(scope)))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token.secret)
    typer.echo(f"token {token.name!r} ({', '.join(sorted(token.scopes))}): shown once, keep it now; clients send "
               "'Authorization: Bearer <token>'", err=True)


@token_app.command("list")
def token_list(url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL).")) -> None:
    """Every token: name, scopes, the first characters of its secret, created, revoked."""
    import asyncio

    from voicebot.web import auth

    for record in asyncio.run(auth.tokens_at(_store_url(url))):
        revoked = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
        typer.echo(f"{record.name}\t{' '.join(record.scopes)}\t{record.hint}…\tcreated "
                   f"{record.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Argument(..., help="The token's name."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Revoke a token: requests with it are refused from now on (the running service included)."""
    import asyncio

    from voicebot.web import auth

    if not asyncio.run(auth.revoke_at(_store_url(url), name)):
        typer.echo(f"error: no active token named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"token {name!r} revoked")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The username they log in with."),
    role: str = typer.Option(..., "--role", "-r", help="agent, supervisor, qa or admin."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin (scripts) "
                                        "instead of a prompt."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
    interface: str = typer.Option("", help="An agent's phone as Asterisk's queues ring it, e.g. PJSIP/1001."),
    queues: str = typer.Option("", help="An agent's queues (bot queue names), each with an optional penalty: "
                               "banking,cards:2."),
) -> None:
    """Add a person (the first admin is made this way); only an argon2 hash of the password is stored. An agent
    with --interface and --queues is a queue member when they choose to be available on their desktop."""
    import asyncio

    from voicebot.store import desktop
    from voicebot.web import auth, logins

    try:
        chosen = auth.Role(role)
    except ValueError:
        typer.echo(f"error: unknown role {role!r}; roles: {', '.join(r.value for r in auth.Role)}", err=True)
        raise typer.Exit(2) from None
    try:
        lines = desktop.parse_queues(queues)
        if bool(interface) != bool(lines):
            raise ValueError("give an agent both --interface and --queues")
        store_url = _store_url(url)
        asyncio.run(logins.add_user_at(store_url, name, chosen, _new_password(password_stdin)))
        if interface:
            asyncio.run(desktop.set_agent_at(store_url, name, interface, lines))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"user {name!r} added ({chosen.value}{f', {interface} in {queues}' if interface else ''})", err=True)


@user_app.command("agent")
def user_agent(
    name: str = typer.Argument(..., help="The username."),
    interface: str = typer.Option(..., help="Their phone as Asterisk's queues ring it (e.g. PJSIP/1001); "
                                  "'' removes them from the queues' members."),
    queues: str = typer.Option("", help="Their queues, each with an optional penalty: banking,cards:2."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Set (or change) an agent's phone and queues."""
    import asyncio

    from voicebot.store import desktop

    try:
        lines = desktop.parse_queues(queues)
        if interface and not lines:
            raise ValueError("give the agent's --queues")
        asyncio.run(desktop.set_agent_at(_store_url(url), name, interface, lines))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"agent {name!r}: {interface or 'no phone'} {queues}".rstrip(), err=True)


@user_app.command("list")
def user_list(url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL).")) -> None:
    """Every user: name, role, created, disabled."""
    import asyncio

    from voicebot.web import logins

    for record in asyncio.run(logins.users_at(_store_url(url))):
        status = f"disabled {record.disabled_at:%Y-%m-%d %H:%M}" if record.disabled_at else "active"
        typer.echo(f"{record.name}\t{record.role}\tcreated {record.created_at:%Y-%m-%d %H:%M}\t{status}")


@user_app.command("passwd")
def user_passwd(
    name: str = typer.Argument(..., help="The username."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Set a new password; the person's open sessions end."""
    import asyncio

    from voicebot.web import logins

    try:
        changed = asyncio.run(logins.set_password_at(_store_url(url), name, _new_password(password_stdin)))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if not changed:
        typer.echo(f"error: no user named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"password of {name!r} changed; their sessions have ended", err=True)


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="The username."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Refuse a person's logins from now on; their open sessions end (the running service included)."""
    import asyncio

    from voicebot.web import logins

    if not asyncio.run(logins.disable_at(_store_url(url), name)):
        typer.echo(f"error: no active user named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"user {name!r} disabled", err=True)


def _new_password(from_stdin: bool) -> str:
    """A new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _store_url(url: str | None) -> str:
    """The database a token or user command works on; its log lines go to stderr (stdout is the answer)."""
    from voicebot.config import Settings
    from voicebot.logs import configure_logging

    configure_logging(stderr=True)
    return url or Settings().paths().store_url


@db_app.command("current")
def db_current(url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL).")) -> None:
    """The revision the call record database is at, and the newest this voicebot ships; exit 1 when behind."""
    import asyncio

    from voicebot.config import Settings
    from voicebot.store import database

    revision, head = asyncio.run(database.current_url(url or Settings().paths().store_url)), database.head()
    typer.echo(f"{revision or 'none'} (newest: {head})")
    if revision != head:
        typer.echo("the database is behind: run `voicebot db upgrade` (or start the service)", err=True)
        raise typer.Exit(1)


@qa_app.command("export")
def qa_export(
    flow: str = typer.Option(None, help="Only this flow (default: every flow with a corrected turn)."),
    out: Path = typer.Option(None, file_okay=False, help="Write <flow>.examples.yaml files here (default: stdout)."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Reviewers' corrected turns as the flows' intent examples (YAML to merge into dialogs/); exit 1 when none."""
    import asyncio

    from voicebot.qa.export import export_at

    exported = asyncio.run(export_at(_store_url(url), flow))
    if not exported:
        typer.echo("no corrected turns to export" + (f" for flow {flow!r}" if flow else ""), err=True)
        raise typer.Exit(1)
    if out is None:
        typer.echo("---\n".join(exported.values()), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in exported.items():
        (out / f"{name}.examples.yaml").write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out / f'{name}.examples.yaml'}", err=True)


@bench_app.command("calls")
def bench_calls(
    calls: int = typer.Option(20, min=1, help="Concurrent calls in the second phase (the first is one call)."),
    stagger: float = typer.Option(0.5, min=0.0, help="Seconds between call starts (0: all talk at once)."),
    script: Path = typer.Option(None, exists=True, dir_okay=False,
                                help="Caller script (default eval/scripts/bench.yaml)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of a table."),
    out: Path = typer.Option(None, dir_okay=False,
                             help="Also write the JSON report here (e.g. eval/results/bench_calls.json)."),
    timeout: float = typer.Option(120.0, help="Give up on a call after this many seconds."),
    ready_timeout: float = typer.Option(180.0, help="Seconds to wait for `voicebot serve` to become ready."),
    voice: str = typer.Option("piper", "--voice", help="Who speaks the caller's lines: piper, or a voice the bot "
                              "was not tuned on (flite-slt, …, festival-kal, festival-ked)."),
    channel: str = typer.Option("clean", "--channel", help="The caller's telephone line: clean, ulaw, gsm, "
                                "gsm+babble10 …"),
) -> None:
    """Start `voicebot serve` on free ports and measure latency per stage, CPU and memory per call."""
    from voicebot.caller.bench import run_cli
    from voicebot.caller.voices import CallerSetup, parse_channel, parse_voices

    try:
        (caller,) = parse_voices(voice)
        setup = CallerSetup(caller, parse_channel(channel))
    except ValueError as exc:
        raise typer.BadParameter(f"--voice/--channel: {exc} (one voice, one channel)") from exc
    raise typer.Exit(run_cli(calls, stagger, script, json_out, out, timeout, ready_timeout, setup))


@bench_app.command("desktop")
def bench_desktop(
    pops: int = typer.Option(50, min=1, help="Calls popped on the agent's page."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of a line."),
    out: Path = typer.Option(None, dir_okay=False,
                             help="Also write the JSON report here (e.g. eval/results/bench_desktop.json)."),
) -> None:
    """The screen pop's latency: AMI AgentConnect (the AMI peer) → the agent's page updated in Debian's chromium;
    p50/p95 (goal p95 ≤ 300 ms; exit 1 above it)."""
    from voicebot.caller.desk_bench import run_cli

    raise typer.Exit(run_cli(pops, json_out, out))


@bench_app.command("audiosocket")
def bench_audiosocket(
    calls: int = typer.Option(50, min=1, help="Concurrent simulated Asterisk calls."),
    stagger: float = typer.Option(0.02, min=0.0, help="Seconds between call starts."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of a summary."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here (e.g. eval/results/bench_audiosocket.json)."),
) -> None:
    """AudioSocket server + paced player under N calls, no models: voiced gaps, errors, CPU per call."""
    raise typer.Exit(_eval_script("bench_audiosocket").run_cli(calls, stagger, json_out, out))


@bench_app.command("tts")
def bench_tts(
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of a summary."),
    rounds: int = typer.Option(3, min=1, help="Times each typical reply is synthesized."),
    rate: int = typer.Option(8000, help="Call sample rate the audio is resampled to."),
    concurrency: int = typer.Option(4, min=1, help="Replies spoken at once in the concurrency phase."),
    out: Path = typer.Option(None, dir_okay=False,
                             help="Also write the JSON report here (e.g. eval/results/bench_tts.json)."),
) -> None:
    """Time to first audio (p50/p95), real-time factor and cache-hit time of the configured voice."""
    raise typer.Exit(_eval_script("bench_tts").run_cli(json_out, rounds, rate, concurrency, out))


models_app = typer.Typer(help="List the models (no sub-command) or train voicebot's own artifacts.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    load: bool = typer.Option(True, help="Time one load of each model (--no-load: only resolve and size)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every model role in models/manifest.toml: package, version, size, load time, status."""
    if ctx.invoked_subcommand is not None:
        return
    from voicebot.models import run_cli

    raise typer.Exit(run_cli(load, json_out))


@models_app.command("train-emotion")
def models_train_emotion(
    data: Path = typer.Option(Path("../shared/data/emotion"), exists=True, file_okay=False,
                              help="Folder with goemotions_train.jsonl (and goemotions_dev.jsonl: its tune half "
                                   "sets the offsets and thresholds)."),
    out: Path = typer.Option(None, dir_okay=False, help="Head path (default models/emotion_head.npz); the "
                                                        "encoder adapter is written next to it."),
    rows: int = typer.Option(30000, min=100, help="Train on this many rows (rare emotions first)."),
    epochs: float = typer.Option(1.0, min=0.1, help="Passes over the training rows."),
    init: Path = typer.Option(None, exists=True, dir_okay=False, help="Continue from this emotion head "
                                                                      "(and its adapter) instead of the base model."),
    layers: int = typer.Option(6, min=1, max=6, help="Fine-tune this many of MiniLM's top layers."),
    seeds: str = typer.Option("0,1", help="One fine-tune per seed, then their average (a uniform soup)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Fine-tune the emotion model (MiniLM layers + head) on GoEmotions, once per seed, and average the runs:
    about 8 min a seed on 2 quiet cores."""
    import json

    from voicebot.models import DEFAULT_MODELS_DIR
    from voicebot.training.train_emotion import EmotionTrainConfig, train_soup

    try:
        seed_list = [int(seed) for seed in seeds.split(",") if seed.strip()]
    except ValueError:
        raise typer.BadParameter("a comma-separated list of integers, e.g. 0,1", param_hint="--seeds") from None
    if not seed_list:
        raise typer.BadParameter("at least one seed", param_hint="--seeds")
    report = train_soup(data, out or DEFAULT_MODELS_DIR / "emotion_head.npz",
                        EmotionTrainConfig(max_rows=rows, epochs=epochs, train_layers=layers), seed_list,
                        progress=lambda m: typer.echo(m, err=True), init=init)
    typer.echo(json.dumps(report, indent=None if json_out else 2))


@models_app.command("train-digits")
def models_train_digits(
    clips: int = typer.Option(2900, min=100, help="Training clips to make (cached under --work: a rerun only trains); "
                                                  "the shipped reader: 2900 clips, 12 epochs."),
    epochs: int = typer.Option(12, min=1, help="Passes over the clips."),
    work: Path = typer.Option(Path("/tmp/voicebot-digits"), file_okay=False, help="Where the clips' encoder states are cached."),
    fsdd: Path = typer.Option(Path("../shared/data/asr/fsdd_digits_dev"), help="FSDD clips (only the dev speakers are used)."),
    workers: int = typer.Option(2, min=1, help="Processes making clips."),
    out: Path = typer.Option(None, dir_okay=False, help="Weights path (default models/digit_reader.npz)."),
    seed: int = typer.Option(1711, help="Seeds the clips and the training (the shipped reader: 1711)."),
    pairs: int = typer.Option(1, min=1, help="How many times \"pairs\" is among the styles a clip draws "
                                             "(the shipped reader: 1)."),
    lr: float = typer.Option(2e-3, min=0.0, help="Peak learning rate (one cycle)."),
    init: Path = typer.Option(None, exists=True, dir_okay=False,
                              help="Start from this reader's weights (one network)."),
    join: Path = typer.Option(None, exists=True, dir_okay=False,
                              help="A reader the new network joins: both are written to --out as one ensemble. "
                                   "The shipped reader: the defaults, then --seed 2027 --pairs 3 --lr 1e-3 --init "
                                   "models/digit_reader.npz --join models/digit_reader.npz."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
) -> None:
    """Train the digit reader (CTC over whisper tiny.en's encoder) on synthetic and FSDD dev speech: seeded, offline."""
    import json

    from voicebot.models import DEFAULT_MODELS_DIR
    from voicebot.training.digit_reader import TrainConfig, build

    def train_digits_progress(message: str) -> None:
        typer.echo(message, err=True)

    report = build(work, out or DEFAULT_MODELS_DIR / "digit_reader.npz", clips, fsdd,
                   TrainConfig(epochs=epochs, seed=seed, lr=lr), workers, progress=train_digits_progress, pairs=pairs,
                   init=init, join=join)
    typer.echo(json.dumps(report, indent=None if json_out else 2))


@eval_app.command("emotion")
def eval_emotion(
    data: Path = typer.Option(..., exists=True, dir_okay=False,
                              help="GoEmotions-style JSONL: text, labels (27 + neutral), ekman."),
    held_out: bool = typer.Option(False, "--held-out", help="Only the half of goemotions_dev that training "
                                                            "never tunes on (by comment id)."),
    model: Path = typer.Option(None, exists=True, dir_okay=False, help="An emotion head to score instead of "
                                                                       "the installed one (its adapter beside it)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of lines."),
) -> None:
    """Per-class F1 and macro-F1 of the emotion model: the product's groups and Ekman's seven."""
    import json

    from voicebot.nlu.emotion import EmotionClassifier
    from voicebot.training.emotion_eval import evaluate, format_report, is_held_out, read_rows

    rows = read_rows(data)
    if held_out:
        rows = [r for r in rows if is_held_out(r)]
    report = evaluate(EmotionClassifier.load(model), rows)  # one thread, as served
    typer.echo(json.dumps(report) if json_out else format_report(report))


@eval_app.command("intents")
def eval_intents(
    test: Path = typer.Option(..., exists=True, dir_okay=False, help="Same format; label `oos` = out of scope."),
    train: Path = typer.Option(None, exists=True, dir_okay=False, help="CSV (text,label) or JSONL (text, label)."),
    flow: Path = typer.Option(None, exists=True, dir_okay=False,
                              help="Instead of --train: a flow bundle (YAML) whose own NLU is trained as the "
                                   "service trains it; also reports how the dialog routes each request."),
    shots: int = typer.Option(None, min=1, help="Train on K examples per label (fixed seed)."),
    mode: str = typer.Option("accurate", help="accurate (fine-tune top MiniLM layers, minutes) | "
                                              "fast (frozen embeddings + logistic regression)."),
    threads: int = typer.Option(2, min=1, help="CPU threads for training and batch prediction."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of lines."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here."),
) -> None:
    """Intent accuracy, macro-F1, out-of-scope P/R: a classifier trained on --train, or a flow's own NLU (--flow)."""
    import json
    import sys

    from voicebot.training.evaluate import evaluate, evaluate_flow, format_flow_report, format_report, read_rows

    if (train is None) == (flow is None):
        raise typer.BadParameter("give either --train or --flow", param_hint="--train/--flow")
    if flow is not None:
        from voicebot.dialog.loader import load_bundle

        bundle, problems = load_bundle(flow)
        if bundle is None:
            raise typer.BadParameter("; ".join(str(p) for p in problems), param_hint="--flow")
        report, _ = evaluate_flow(bundle, read_rows(test))
        report = {"flow": str(flow), "test": str(test)} | report
        text = format_flow_report(report)
    else:
        if mode not in ("accurate", "fast"):
            raise typer.BadParameter("mode must be accurate or fast", param_hint="--mode")

        def progress(step: int, total: int, loss: float) -> None:
            if not json_out and (step % 50 == 0 or step == total):
                print(f"  step {step}/{total} loss {loss:.3f}", file=sys.stderr, flush=True)

        report = evaluate(train, test, shots, mode, threads, progress)  # type: ignore[arg-type]
        text = format_report(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(json.dumps(report, indent=2) if json_out else text)


@eval_app.command("digits")
def eval_digits(
    split: str = typer.Option("heldout", help="dev (tuned on) | heldout (reported) | all."),
    engine: str = typer.Option("whisper-tiny", help="The recogniser, as speech.asr_engine names it."),
    limit: int = typer.Option(None, min=1, help="Only N clips, spread over the split."),
    regenerate: bool = typer.Option(False, help="Write eval/data/digits/set.jsonl again from its seed first."),
    progress: bool = typer.Option(False, help="Print each clip as it is heard."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here (e.g. eval/results/digits.json)."),
) -> None:
    """Exact-string accuracy of spoken 4-16 digit strings (synthetic callers over phone codecs, real FSDD)."""
    raise typer.Exit(_eval_script("digits").run_cli(split, limit, engine, json_out, out, regenerate, progress))


@eval_app.command("pii")
def eval_pii(
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here (e.g. eval/results/pii.json)."),
) -> None:
    """Precision and recall per kind of the PII masking (nlu/pii.py) on eval/data/pii (held-out and dev)."""
    raise typer.Exit(_eval_script("pii").run_cli(json_out, out=out))


pii_app = typer.Typer(no_args_is_help=True, help="Personal data: the key that encrypts kept unmasked originals.")
app.add_typer(pii_app, name="pii")


@pii_app.command("key")
def pii_key() -> None:
    """Print a new key for VOICEBOT_PII__KEY (Fernet): kept unmasked originals are encrypted with it."""
    from voicebot.store.audit import new_key

    typer.echo(new_key())


@eval_app.command("asr")
def eval_asr(
    manifest: Path = typer.Option(..., exists=True, dir_okay=False, help="JSONL: {\"audio\": wav, \"text\": reference}."),
    engine: str = typer.Option("whisper-cascade", help="whisper-cascade (the default) | whisper-tiny | whisper-base | vosk"),
    slot: str = typer.Option(None, help="Bias as the flow would (digits, yes_no); default no hint."),
    digits: int = typer.Option(0, min=0, help="With --slot digits: how many digits the flow expects (0: unknown)."),
    limit: int = typer.Option(None, min=1, help="Only N clips, spread evenly over the manifest."),
    live: int = typer.Option(20, min=0, help="Clips also played in real time through a Listener (latency)."),
    vosk_model: Path = typer.Option(None, file_okay=False, help="Vosk model directory (engine vosk)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here (e.g. eval/results/asr_tiny.json)."),
    channel: str = typer.Option("clean", help="Telephone line applied to every clip: clean, ulaw, gsm+babble10, amr+pink10 …"),
) -> None:
    """WER, real-time factor and end of speech -> final transcript of an ASR engine on 8 kHz clips."""
    from voicebot.caller.voices import parse_channel

    try:
        parse_channel(channel)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--channel") from error
    raise typer.Exit(_eval_script("asr").run_cli(manifest, engine, slot, limit, live, vosk_model, json_out, out,
                                                 digits, channel))


@eval_app.command("voices")
def eval_voices(
    bundles: str = typer.Option(None, help="Comma list of bundles (default: every bundle with tests)."),
    matrix: str = typer.Option("piper/clean,flite/ulaw,flite/gsm+babble10,festival/ulaw,festival/gsm+babble10",
                               help="family/channel entries: piper | flite | festival over clean | ulaw | gsm+babble10 …"),
    jobs: int = typer.Option(4, min=1, help="Concurrent calls per bundle."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the JSON report here (e.g. eval/results/voices.json)."),
    progress_log: Path = typer.Option(None, dir_okay=False, help="Append one JSON line per call here."),
    from_log: Path = typer.Option(None, exists=True, dir_okay=False,
                                  help="Place no calls: report the calls of a progress log (a run cut short)."),
) -> None:
    """Audio-mode conversation tests spoken by flite/festival voices over telephone channels: pass rates."""
    raise typer.Exit(_eval_script("caller_voices").run_cli(bundles, matrix, jobs, json_out, out, progress_log,
                                                           from_log))


@app.command()
def validate(
    path: Path = typer.Argument(Path("dialogs"), exists=True, help="A dialogs directory or one flow file."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON object instead of lines."),
    strict: bool = typer.Option(False, help="Warnings fail too."),
) -> None:
    """Check flow files: prints file:line:col: message for every problem; exit 1 on any error."""
    from voicebot.config import Settings
    from voicebot.designer.commands import validate as run_validate

    raise typer.Exit(run_validate(path, json_out, strict, Settings().pii.sensitive_words))


@app.command()
def chat(
    flow: str = typer.Argument(..., help="A flow file (dialogs/banking.yaml) or a bundle name (banking)."),
    backend: str = typer.Option("live", help="live (the bundle's backend URL) | demo (in-process) | none | a URL."),
    caller_id: str = typer.Option("+15550100", help="Caller id the flow sees."),
    language: str = typer.Option(None, help="Call language (one of the bundle's languages)."),
) -> None:
    """Talk to a flow in the terminal; shows intent, slots, state and decisions each turn."""
    from voicebot.config import Settings
    from voicebot.designer.commands import chat as run_chat

    settings = Settings()
    raise typer.Exit(run_chat(flow, settings.dialog.dir, backend, caller_id, language, settings.dialog.backend_url))


@app.command("test")
def test_flows(
    path: Path = typer.Argument(Path("dialogs"), exists=True, help="A dialogs directory (tests in its tests/) or one .test.yaml."),
    flow: str = typer.Option(None, "--flow", help="Only this bundle's tests."),
    match: str = typer.Option(None, "--match", "-k", help="Only tests whose name has this in it (any case)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON report."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Transcripts of passing tests too."),
    audio: bool = typer.Option(False, "--audio", help="Play each test as a real call: Piper TTS -> AudioSocket -> "
                               "a `voicebot serve` started per bundle (shows what the ASR heard)."),
    voice: str = typer.Option("piper", "--voice", help="With --audio: who speaks the caller lines, a comma list of "
                              "piper | flite | festival | flite-slt, flite-rms, flite-awb, flite-kal, festival-slt, "
                              "festival-kal, festival-ked (a family is all its voices)."),
    channel: str = typer.Option("clean", "--channel", help="With --audio: the telephone line, a comma list of clean | "
                                "ulaw | alaw | gsm | amr, optionally +pink<SNR> or +babble<SNR> (gsm+babble10). "
                                "Every voice over every channel, taken in turn one per test."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="With --audio: concurrent calls per bundle "
                             "(one voicebot serve per call lane)."),
) -> None:
    """Run the YAML conversation tests with the real NLU; exit 1 when any fails."""
    from voicebot.logs import configure_logging

    configure_logging(stderr=True)  # log lines (a backend action that failed) to stderr: stdout is the report
    if audio:
        from voicebot.designer.audio_tests import run_cli as run_audio

        raise typer.Exit(run_audio(path, flow, json_out, verbose, voice, channel, jobs, match))
    from voicebot.designer.commands import test as run_tests

    raise typer.Exit(run_tests(path, flow, json_out, verbose, None, match))


@app.command()
def graph(
    flow: str = typer.Argument(..., help="A flow file or a bundle name."),
    fmt: str = typer.Option("mermaid", "--format", "-f", help="mermaid | svg"),
    out: Path = typer.Option(None, "-o", "--out", dir_okay=False, help="Write here instead of stdout."),
) -> None:
    """Export a diagram of a bundle's flows (Mermaid text or SVG)."""
    from voicebot.config import Settings
    from voicebot.designer.commands import graph as run_graph

    raise typer.Exit(run_graph(flow, fmt, out, Settings().dialog.dir))


recordings_app = typer.Typer(no_args_is_help=True, help="Call recordings: retention.")
app.add_typer(recordings_app, name="recordings")


@recordings_app.command("purge")
def recordings_purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what is past retention; delete nothing."),
    url: str = typer.Option(None, help="Database URL (default: VOICEBOT_STORE__URL)."),
) -> None:
    """Delete the recordings past their retention (the flow's recording.retain_days, else the
    recordings.retain_days setting) and mark their rows; the service does it every recordings.purge_interval_s."""
    import asyncio

    from voicebot.call.recording import purge_at

    result = asyncio.run(purge_at(_store_url(url), dry_run))
    for record in result.expired:
        typer.echo(f"{record.call_id}\t{record.flow}\texpired {record.expires_at:%Y-%m-%d %H:%M}\t{record.path}")
    verb = "would delete" if dry_run else "deleted"
    gone = f" ({result.missing} already missing)" if result.missing else ""
    typer.echo(f"{verb} {len(result.expired)} recording(s){gone}", err=True)


def _eval_script(name: str) -> ModuleType:
    """A script of the source checkout's ``eval/`` folder, imported as a module."""
    path = Path(__file__).resolve().parents[1] / "eval" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"eval_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        typer.echo(f"error: {path} is missing (run from a source checkout)", err=True)
        raise typer.Exit(2)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module
