"""Static checks of asterisk/extensions-workers.conf (several workers, the dialplan way; no Asterisk runs here):
its entry points continue into extensions.conf's two AudioSocket forms, every jump has a target, every function
comes from a module modules.conf loads, and the picker sets the variables the rest of the dialplan reads."""

from __future__ import annotations

import re

from test_store_asterisk_dialplan import CORE, PROVIDER, _conf, _extensions, _loaded_modules

WORKERS = {ctx: _extensions(lines) for ctx, lines in _conf("extensions-workers.conf").items()}
SINGLE = {ctx: _extensions(lines) for ctx, lines in _conf("extensions.conf").items() if ctx != "globals"}
PROVIDERS = {**PROVIDER, "FIELDQTY": "func_strings", "LOCAL": "app_stack", "GLOBAL": "func_global"}


def test_entry_points_pick_a_worker_then_run_the_single_worker_forms() -> None:
    for entry, form in (("voicebot-inbound-workers", "voicebot-app"),
                        ("voicebot-inbound-wideband-workers", "voicebot-dial")):
        for exten in ("_X.", "s"):
            apps = WORKERS[entry][exten]
            assert apps[1:] == ["Gosub(voicebot-pick-worker,s,1)", f"Goto({form},s,1)"], (entry, exten)
            assert form in SINGLE
    # the picked worker serves all three steps: they read these variables
    single = " ".join(app for exts in SINGLE.values() for apps in exts.values() for app in apps)
    assert "${VOICEBOT_API}/api/calls/${CALL_UUID}/announce" in single
    assert "${VOICEBOT_API}/api/calls/${CALL_UUID}/handoff" in single
    assert "AudioSocket(${CALL_UUID},${VOICEBOT_AUDIOSOCKET})" in single


def test_the_picker_tries_every_worker_once_and_sets_the_call_s_addresses() -> None:
    apps = WORKERS["voicebot-pick-worker"]["s"]
    labels = {a.split(":", 1)[0] for a in apps if re.match(r"\w+:", a)}
    for app in apps:
        assert app.count("(") == app.count(")") and app.count("{") == app.count("}"), app
        for cond in re.findall(r"GotoIf\(.*\?(\w+)(?::(\w+))?\)", app):
            assert set(filter(None, cond)) <= labels, app
    found = apps.index("found:Set(VOICEBOT_AUDIOSOCKET=${host}:${VOICEBOT_WORKER_AUDIOSOCKET_PORT})")
    assert apps[found + 1:] == ["Set(VOICEBOT_API=http://${host}:${VOICEBOT_WORKER_WEB_PORT})", "Return()"]
    assert apps[found - 1] == "Return()"  # nobody answered: the globals stay, the leg fails, the fallback queue
    assert "GotoIf($[${i} < ${n}]?try)" in apps
    assert "Set(LOCAL(health)=${CURL(http://${host}:${VOICEBOT_WORKER_WEB_PORT}/healthz)})" in apps


def _pick(workers: list[str], counter: dict[str, str], down: set[str]) -> str | None:
    """The picker's arithmetic, as the dialplan lines above write it (``counter``: Asterisk's globals)."""
    n = len(workers)
    start = int(counter.get("VOICEBOT_NEXT_WORKER") or 0) % n
    counter["VOICEBOT_NEXT_WORKER"] = str(start + 1)
    for i in range(n):
        host = workers[(start + i) % n]
        if host not in down:
            return host
    return None


def test_the_picker_arithmetic_spreads_calls_and_skips_workers_that_are_down() -> None:
    apps = WORKERS["voicebot-pick-worker"]["s"]
    start = apps.index('Set(LOCAL(start)=$[${IF($["${VOICEBOT_NEXT_WORKER}" = ""]?0:${VOICEBOT_NEXT_WORKER})} % ${n}])')
    assert apps[start + 1] == "Set(GLOBAL(VOICEBOT_NEXT_WORKER)=$[${start} + 1])"
    assert "try:Set(LOCAL(host)=${CUT(VOICEBOT_WORKERS,&,$[(${start} + ${i}) % ${n} + 1])})" in apps
    workers = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    counter: dict[str, str] = {}
    picked = [_pick(workers, counter, set()) for _ in range(30)]
    assert picked[:4] == ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.11"]
    assert {w: picked.count(w) for w in workers} == {w: 10 for w in workers}
    assert {_pick(workers, counter, {"10.0.0.12"}) for _ in range(30)} == {"10.0.0.11", "10.0.0.13"}
    assert _pick(workers, counter, set(workers)) is None


def test_modules_conf_loads_what_the_workers_dialplan_uses() -> None:
    loaded = _loaded_modules()
    text = " ".join(app for exts in WORKERS.values() for apps in exts.values() for app in apps)
    apps = {re.match(r"(?:\w+:)?(\w+)\(", app).group(1) for exts in WORKERS.values() for apps in exts.values()
            for app in apps}
    functions = set(re.findall(r"\$\{(\w+)\(", text)) | set(re.findall(r"\b(CURLOPT|LOCAL|GLOBAL)\(", text))
    for name in sorted(apps | functions):
        assert name in CORE or name in PROVIDERS, f"{name}: which module provides it?"
        if name in PROVIDERS:
            assert PROVIDERS[name] in loaded, f"{name} needs {PROVIDERS[name]} in asterisk/modules.conf"
