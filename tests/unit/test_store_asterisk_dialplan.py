"""Static checks of asterisk/: every jump has a target, both AudioSocket forms are there, the demo queues
exist, and the dialplan's CUT() parsing reads the web API's handoff answer the way the route writes it.
(No Asterisk runs here; the real-Asterisk check is done against `voicebot serve`.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from scripts import imported_script

ASTERISK = Path(__file__).resolve().parents[2] / "asterisk"


def _conf(name: str) -> dict[str, list[str]]:
    """context -> its lines, comments stripped."""
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in (ASTERISK / name).read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\](\([^)]*\))?", line)
        if header:
            current = header.group(1)
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def _extensions(lines: list[str]) -> dict[str, list[str]]:
    """extension -> its priorities' application strings, in order; labels kept as 'label:app'."""
    exts: dict[str, list[str]] = {}
    current = ""
    for line in lines:
        m = re.match(r"(exten|same)\s*=>\s*(.*)", line)
        if not m:
            continue
        rest = m.group(2)
        if m.group(1) == "exten":
            current, rest = rest.split(",", 1)
            exts.setdefault(current, [])
        prio, app = rest.split(",", 1)
        label = re.search(r"\((\w+)\)", prio)
        exts[current].append(f"{label.group(1)}:{app}" if label else app)
    return exts


@pytest.fixture(scope="module")
def dialplan() -> dict[str, dict[str, list[str]]]:
    return {ctx: _extensions(lines) for ctx, lines in _conf("extensions.conf").items() if ctx != "globals"}


def test_every_goto_has_a_target(dialplan: dict[str, dict[str, list[str]]]) -> None:
    for context, exts in dialplan.items():
        for exten, apps in exts.items():
            labels = {a.split(":", 1)[0] for a in apps if re.match(r"\w+:", a)}
            for app in apps:
                # a ';' inside an argument starts a comment in Asterisk and leaves a bracket open
                assert app.count("(") == app.count(")") and app.count("{") == app.count("}"), app
                for target in re.findall(r"Goto\(([\w-]+),([\w.]+),1\)", app):
                    assert target[0] in dialplan and target[1] in dialplan[target[0]], (context, app)
                for cond in re.findall(r"GotoIf\(.*\?(\w+)(?::(\w+))?\)", app):
                    for label in filter(None, cond):
                        assert label in labels, (context, exten, label)


def test_both_audiosocket_forms_continue_to_the_handoff_lookup(dialplan: dict[str, dict[str, list[str]]]) -> None:
    app_form = " ".join(dialplan["voicebot-app"]["s"])
    assert "Answer()" in app_form and "${UUID()}" in app_form
    assert "TryExec(AudioSocket(${CALL_UUID},${VOICEBOT_AUDIOSOCKET}))" in app_form
    driver_form = " ".join(dialplan["voicebot-dial"]["s"])
    assert "Dial(AudioSocket/${VOICEBOT_AUDIOSOCKET}/${CALL_UUID}/c(slin16),,g)" in driver_form
    for context in ("voicebot-app", "voicebot-dial"):
        assert dialplan[context]["s"][-1] == "Goto(voicebot-after,s,1)"
    after = " ".join(dialplan["voicebot-after"]["s"])
    assert "${CURL(${VOICEBOT_API}/api/calls/${CALL_UUID}/handoff)}" in after
    assert "Queue(${QUEUE_NAME}" in after and after.endswith("Hangup()")


def test_globals_and_queues() -> None:
    globals_ = dict(line.split("=", 1) for line in _conf("extensions.conf")["globals"])
    assert globals_["VOICEBOT_AUDIOSOCKET"] == "127.0.0.1:9092"
    assert globals_["VOICEBOT_API"] == "http://127.0.0.1:8080"
    queues = _conf("queues.conf")
    prefix = globals_["VOICEBOT_QUEUE_PREFIX"]
    for name in ("general", "banking", "cards", "retail", "logistics", "public", globals_["VOICEBOT_FALLBACK_QUEUE"]):
        assert any(m.startswith("member =>") for m in queues[prefix + name]), name
    manager = _conf("manager.conf")
    assert dict(line.replace(" ", "").split("=", 1) for line in manager["general"])["bindaddr"] == "127.0.0.1"
    assert "originate" not in " ".join(manager["voicebot"])


def _run_cuts(apps: list[str], variables: dict[str, str]) -> dict[str, str]:
    """Evaluate the Set(X=${CUT(VAR,delim,n)}) lines in order, as Asterisk's CUT() does."""
    for app in apps:
        m = re.fullmatch(r"Set\((_*)(\w+)=\$\{CUT\((\w+),(.),(\d+)\)\}\)", app)
        if m:
            fields = variables.get(m.group(3), "").split(m.group(4))
            n = int(m.group(5))
            variables[m.group(2)] = fields[n - 1] if n <= len(fields) else ""
    return variables


def test_dialplan_reads_the_handoff_answer_the_route_writes(dialplan: dict[str, dict[str, list[str]]]) -> None:
    from voicebot.web.app import handoff_answer

    after = dialplan["voicebot-after"]["s"]
    handed = handoff_answer({"queue": "cards", "skill": "lost_card", "priority": 5, "reason": "caller request"})
    got = _run_cuts(after, {"HANDOFF": handed})
    assert (got["QUEUE"], got["VOICEBOT_SKILL"], got["QUEUE_PRIO"]) == ("cards", "lost_card", "5")
    assert handed.startswith("queue=")
    finished = _run_cuts(after, {"HANDOFF": handoff_answer(None)})
    assert finished["QUEUE"] == "" and handoff_answer(None).startswith("queue=")


# Where each dialplan application and function comes from: Asterisk's core, or a module.
CORE = {"Answer", "Set", "Goto", "GotoIf", "NoOp", "Wait", "Hangup"}
PROVIDER = {
    "AudioSocket": "app_audiosocket", "Dial": "app_dial", "TryExec": "app_exec", "Gosub": "app_stack",
    "Return": "app_stack", "Log": "app_verbose", "Queue": "app_queue", "QUEUE_EXISTS": "app_queue",
    "CURL": "func_curl", "CURLOPT": "func_curl", "URIENCODE": "func_uri", "CUT": "func_cut", "UUID": "func_uuid",
    "IF": "func_logic", "CALLERID": "func_callerid", "Playback": "app_playback", "SendDTMF": "app_senddtmf",
    "MixMonitor": "app_mixmonitor", "WaitForNoise": "app_waitforsilence", "WaitForSilence": "app_waitforsilence",
}
DEPENDS = {"app_audiosocket": "res_audiosocket", "chan_audiosocket": "res_audiosocket", "func_curl": "res_curl"}
# Text in extensions.conf -> the module it needs
NEEDS = {"Dial(AudioSocket/": "chan_audiosocket", "channel originate": "res_clioriginate", ".wav": "format_wav",
         "Dial(": "bridge_simple", "Queue(": "bridge_simple"}


def _loaded_modules() -> set[str]:
    return set(re.findall(r"^load\s*=\s*(\w+)\.so", (ASTERISK / "modules.conf").read_text(), re.M))


def test_modules_conf_loads_everything_the_dialplan_uses(dialplan: dict[str, dict[str, list[str]]]) -> None:
    loaded = _loaded_modules()
    assert "pbx_config" in loaded  # without it extensions.conf is not read at all
    text = " ".join(app for exts in dialplan.values() for apps in exts.values() for app in apps)
    apps = {re.match(r"(?:\w+:)?(\w+)\(", app).group(1) for exts in dialplan.values() for apps in exts.values()
            for app in apps}
    functions = set(re.findall(r"\$\{(\w+)\(", text)) | set(re.findall(r"\b(CURLOPT|CALLERID)\(", text))
    for name in sorted(apps | functions):
        assert name in CORE or name in PROVIDER, f"{name}: which module provides it? add it to modules.conf"
        if name in PROVIDER:
            assert PROVIDER[name] in loaded, f"{name} needs {PROVIDER[name]} in asterisk/modules.conf"
    for module in loaded & DEPENDS.keys():
        assert DEPENDS[module] in loaded, f"{module} needs {DEPENDS[module]}"
    whole = (ASTERISK / "extensions.conf").read_text()
    for used, module in NEEDS.items():
        assert used not in whole or module in loaded, f"{used} needs {module}"


def _handoff_steps(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = [node["handoff"]] if isinstance(node.get("handoff"), dict) else []
        return found + [h for value in node.values() for h in _handoff_steps(value)]
    if isinstance(node, list):
        return [h for value in node for h in _handoff_steps(value)]
    return []


def test_every_queue_the_shipped_flows_hand_off_to_exists() -> None:
    import yaml

    prefix = dict(line.split("=", 1) for line in _conf("extensions.conf")["globals"])["VOICEBOT_QUEUE_PREFIX"]
    queues = _conf("queues.conf")
    named = {h["queue"] for path in (ASTERISK.parent / "dialogs").glob("*.yaml")
             for h in _handoff_steps(yaml.safe_load(path.read_text())) if h.get("queue")}
    assert {"banking", "cards", "public"} <= named  # queues are the handoff steps' names, not the flows'
    for queue in named:
        assert prefix + queue in queues, f"flows hand off to {queue!r}: add [{prefix}{queue}] to queues.conf"


def test_test_callers_record_one_file_per_call_and_play_shipped_sounds(
        dialplan: dict[str, dict[str, list[str]]]) -> None:
    import wave

    for exten, apps in dialplan["voicebot-test"].items():
        recordings = [a for a in apps if a.startswith("Set(RECORDING=")]
        assert recordings and "${UNIQUEID}" in recordings[0], exten  # EPOCH repeats within a second
        assert "MixMonitor(${RECORDING})" in apps, exten
        for app in apps:
            if m := re.fullmatch(r"Playback\(voicebot/([\w-]+)\)", app):
                with wave.open(str(ASTERISK / "sounds" / f"{m.group(1)}.wav")) as sound:
                    assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (8000, 1, 2)


@pytest.fixture(scope="module")
def check() -> Iterator[ModuleType]:
    """asterisk/check.py, imported."""
    with imported_script(ASTERISK / "check.py", "asterisk_check") as module:
        yield module


def test_check_expects_the_banking_agent_handoff(check: ModuleType) -> None:
    """check.py's expected answer is what the banking flow's agent handler gives an unverified caller."""
    import yaml

    from voicebot.web.app import handoff_answer

    banking = yaml.safe_load((ASTERISK.parent / "dialogs" / "banking.yaml").read_text())
    agent = banking["handlers"]["agent"]["handoff"]
    assert "or 0" in agent["priority"]  # unverified: no customer priority
    menu = next(s for s in banking["flows"]["main"]["steps"] if s.get("id") == "menu")
    assert menu["menu"]["dtmf"]["0"] == "agent"  # the dtmf caller presses 0
    expected = handoff_answer({"queue": agent["queue"], "skill": agent["skill"], "priority": 0,
                               "reason": agent["reason"]})
    assert set(check.EXPECTED.values()) == {expected}
    assert set(check.module_names(ASTERISK / "modules.conf")) == _loaded_modules()


def test_check_follows_a_call_in_asterisks_log(check: ModuleType) -> None:
    uuid = "9afe9cd8-fcab-4d60-be05-2fb50d8975b1"
    log = (
        '[Dec  5 01:28:12] VERBOSE[1][C-2] pbx.c: Executing [caller@voicebot-test:4] Log("Local/1000;1", '
        '"NOTICE,voicebot test caller caller: recording /tmp/voicebot-test-179.0.wav") in new stack\n'
        "[Dec  5 01:28:12] NOTICE[1][C-2] Ext. caller: voicebot test caller caller: recording /tmp/voicebot-test-179.0.wav\n"
        f'[Dec  5 01:28:47] NOTICE[2][C-1] Ext. s: voicebot {uuid}: leg_ok=1 handoff="queue=banking&skill=general'
        '&priority=0&reason=caller_request"\n'
        f"[Dec  5 01:28:47] NOTICE[2][C-1] Ext. s: voicebot {uuid}: Queue(voicebot-banking) priority 0 skill general\n"
    )
    call = check.trace(log)
    assert (call.uuid, call.leg_ok, call.end, call.recording) == (
        uuid, "1", "Queue(voicebot-banking)", "/tmp/voicebot-test-179.0.wav")
    assert call.answer == "queue=banking&skill=general&priority=0&reason=caller_request"
    assert check.trace(log.splitlines(keepends=True)[1]).end == ""  # still running
