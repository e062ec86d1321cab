"""Static checks of asterisk/: every jump has a target, both AudioSocket forms are there, the demo queues
exist, and the dialplan's CUT() parsing reads the web API's handoff answer the way the route writes it.
(No Asterisk runs here; the real-Asterisk check is done against `voicebot serve`.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
