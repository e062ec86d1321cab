#!/usr/bin/env python3
"""End-to-end check of a real Asterisk wired to voicebot, as asterisk/README.md sets it up.

    sudo VOICEBOT_API_TOKEN=<a read token> python3 asterisk/check.py     # both forms, both test callers
    sudo python3 asterisk/check.py --token <a read token> --form app --caller caller

Checks that Asterisk runs with every module of asterisk/modules.conf, voicebot's dialplan, queues and test
sounds; then, for each AudioSocket form and test caller, originates a test call, follows it in Asterisk's
log (/var/log/asterisk/voicebot.log) to Queue() or Hangup(), and checks the call record and the handoff
answer in voicebot's web API (reading the record takes an API token of scope ``read``:
``voicebot token create checker --scope read``). Prints what passed and failed; exits 1 if anything failed.
Standard library only: it runs on the Asterisk host, which need not have voicebot installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTEXTS = ("voicebot-inbound", "voicebot-inbound-wideband", "voicebot-app", "voicebot-dial", "voicebot-announce",
            "voicebot-after", "voicebot-demo-agent", "voicebot-test", "voicebot-test-listen")
QUEUES = ("voicebot-general", "voicebot-banking", "voicebot-cards", "voicebot-retail", "voicebot-logistics",
          "voicebot-public")
FORMS = {"app": "voicebot-inbound", "wideband": "voicebot-inbound-wideband"}
# What each test caller of extensions.conf ends with on the default (banking) flow.
EXPECTED = {
    "caller": "queue=banking&skill=general&priority=0&reason=caller_request",
    "dtmf": "queue=banking&skill=general&priority=0&reason=caller_request",
}
CALL_LIMIT_S = 30.0  # a test caller reaches Queue() or Hangup() within this
HANDOFF_LINE = re.compile(r'voicebot (?P<uuid>[0-9a-f-]{36}): leg_ok=(?P<ok>\d*) handoff="(?P<answer>[^"]*)"')
END_LINE = re.compile(r"voicebot (?P<uuid>[0-9a-f-]{36}): (?P<end>Queue\((?P<queue>[^)]*)\)|Hangup\(\)|falling back)")
RECORDING_LINE = re.compile(r"voicebot test caller \w+: recording (?P<path>/\S+?\.wav)")


def module_names(modules_conf: Path) -> list[str]:
    """The modules asterisk/modules.conf loads, without ``.so``."""
    names = []
    for line in modules_conf.read_text().splitlines():
        m = re.match(r"\s*load\s*=>?\s*([\w-]+)\.so", line.split(";", 1)[0])
        if m:
            names.append(m.group(1))
    return names


@dataclass
class CallTrace:
    """What Asterisk's log says about one test call."""

    uuid: str = ""
    leg_ok: str = ""
    answer: str | None = None  # the handoff answer the dialplan read
    end: str = ""  # "Queue(voicebot-x)", "Hangup()" or "falling back"
    recording: str = ""


def trace(log_text: str) -> CallTrace:
    """Follow the first test call in this stretch of Asterisk's log."""
    call = CallTrace()
    if m := RECORDING_LINE.search(log_text):
        call.recording = m.group("path")
    if m := HANDOFF_LINE.search(log_text):
        call.uuid, call.leg_ok, call.answer = m.group("uuid"), m.group("ok"), m.group("answer")
        for end in END_LINE.finditer(log_text):
            if end.group("uuid") == call.uuid:
                call.end = end.group("end")
                break
    return call


class Checker:
    def __init__(self, asterisk: str, api: str, log: Path, sounds: Path, token: str) -> None:
        self.asterisk, self.api, self.log, self.sounds = asterisk.split(), api.rstrip("/"), log, sounds
        self.token = token
        self.failed = 0

    def result(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {what}{f'  ({detail})' if detail else ''}", flush=True)
        self.failed += not ok
        return ok

    def cli(self, command: str) -> str:
        done = subprocess.run([*self.asterisk, "-rx", command], capture_output=True, text=True, timeout=20)
        return done.stdout + done.stderr

    def get(self, path: str) -> tuple[int, str]:
        try:
            request = urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def setup(self) -> bool:
        status, body = self.get("/healthz")
        self.result(status == 200, f"voicebot answers {self.api}/healthz", body[:100])
        version = self.cli("core show version")
        if not self.result(version.startswith("Asterisk"), "Asterisk is running", version.strip()[:80]):
            return False
        running = self.cli("module show")
        missing = [m for m in module_names(HERE / "modules.conf")
                   if not re.search(rf"^{re.escape(m)}\.so\s.*\bRunning\b", running, re.M)]
        self.result(not missing, "every module of asterisk/modules.conf is running",
                    f"not running: {', '.join(missing)}" if missing else "")
        absent = [c for c in CONTEXTS if f"Context '{c}'" not in self.cli(f"dialplan show {c}")]
        self.result(not absent, "voicebot's dialplan is loaded", f"missing contexts: {', '.join(absent)}" if absent else "")
        api = re.search(r"VOICEBOT_API=(\S+)", self.cli("dialplan show globals"))
        self.result(bool(api) and api.group(1).rstrip("/") == self.api, "the dialplan's VOICEBOT_API is this API",
                    api.group(1) if api else "VOICEBOT_API not set")
        token = re.search(r"VOICEBOT_TOKEN=(\S+)", self.cli("dialplan show globals"))
        self.result(bool(token) and token.group(1).startswith("vbt_"), "the dialplan has an API token (VOICEBOT_TOKEN)",
                    "set VOICEBOT_TOKEN in extensions.conf [globals]" if not token else token.group(1)[:8] + "…")
        status, body = self.get("/api/flows")
        self.result(status == 200, "this checker's token may read calls (--token / VOICEBOT_API_TOKEN)", body[:100])
        queues = [q for q in QUEUES if f"{q} has" not in self.cli(f"queue show {q}")]
        self.result(not queues, "the demo queues exist", f"missing: {', '.join(queues)}" if queues else "")
        sounds = sorted(p.name for p in self.sounds.glob("*.wav"))
        self.result(len(sounds) >= 2, f"the test caller's recorded requests are in {self.sounds}", ", ".join(sounds))
        return self.result(self.log.exists(), f"Asterisk logs to {self.log}")

    def call(self, form: str, caller: str) -> None:
        name = f"{form} form, test caller '{caller}'"
        offset = self.log.stat().st_size
        started = time.monotonic()
        self.cli(f"channel originate Local/1000@{FORMS[form]} extension {caller}@voicebot-test")
        call = CallTrace()
        while time.monotonic() - started < CALL_LIMIT_S + 30:
            call = trace(self._log_since(offset))
            if call.end:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        if not self.result(bool(call.end), f"{name}: the call reaches Queue() or Hangup()",
                           f"{call.end} after {elapsed:.1f} s" if call.end else f"nothing after {elapsed:.0f} s"):
            return
        self.result(elapsed <= CALL_LIMIT_S, f"{name}: within {CALL_LIMIT_S:.0f} s", f"{elapsed:.1f} s")
        self.result(call.leg_ok == "1", f"{name}: the AudioSocket leg ended normally", f"leg_ok={call.leg_ok}")
        self.result((call.answer or "").removesuffix("&briefing=1") == EXPECTED[caller],  # briefing on or off
                    f"{name}: the handoff answer is the flow's",
                    f"dialplan read {call.answer!r}, expected {EXPECTED[caller]!r}")
        record = None
        for _ in range(20):  # the record is complete once the call has ended
            status, body = self.get(f"/api/calls/{call.uuid}")
            if status == 200 and json.loads(body).get("ended_at"):
                record = json.loads(body)
                break
            time.sleep(0.5)
        if self.result(record is not None, f"{name}: the call record is in voicebot's API", f"/api/calls/{call.uuid}"):
            turns = record.get("turns") or []
            self.result(record.get("outcome") == "handoff" and record.get("flow") == "banking",
                        f"{name}: the record shows the handoff on the banking flow",
                        f"outcome={record.get('outcome')} flow={record.get('flow')} turns={len(turns)}")
            kinds = {t.get("input_kind") for t in turns}
            wanted = {"speech", "dtmf"} if caller == "caller" else {"dtmf"}
            self.result(wanted <= kinds, f"{name}: voicebot heard the caller ({' and '.join(sorted(wanted))})",
                        "; ".join(f"{t.get('input_kind')}: {t.get('caller_text') or t.get('entities', {}).get('dtmf', '')}"
                                  for t in turns if t.get("input_kind") in ("speech", "dtmf")))
        status, body = self.get(f"/api/calls/{call.uuid}/handoff")
        self.result(status == 200 and body == call.answer, f"{name}: /api/calls/<uuid>/handoff answers the same",
                    body)
        recording = Path(call.recording) if call.recording else None
        for _ in range(20):  # MixMonitor closes the file when the caller's half hangs up
            if recording and recording.exists() and recording.stat().st_size > 44:
                break
            time.sleep(0.5)
        self.result(bool(recording) and recording.exists() and recording.stat().st_size > 44,
                    f"{name}: the call was recorded", call.recording or "no recording logged")

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8080", help="voicebot's web API (the dialplan's VOICEBOT_API)")
    parser.add_argument("--asterisk", default="asterisk", help="how to run the Asterisk CLI, e.g. 'sudo asterisk'")
    parser.add_argument("--log", type=Path, default=Path("/var/log/asterisk/voicebot.log"))
    parser.add_argument("--sounds", type=Path, default=Path("/var/lib/asterisk/sounds/voicebot"))
    parser.add_argument("--form", choices=[*FORMS, "both"], default="both")
    parser.add_argument("--caller", choices=[*EXPECTED, "both"], default="both")
    parser.add_argument("--token", default=os.environ.get("VOICEBOT_API_TOKEN", ""),
                        help="an API token of scope read (default: $VOICEBOT_API_TOKEN)")
    args = parser.parse_args()
    checker = Checker(args.asterisk, args.api, args.log, args.sounds, args.token)
    if checker.setup():
        for form in FORMS if args.form == "both" else [args.form]:
            for caller in EXPECTED if args.caller == "both" else [args.caller]:
                checker.call(form, caller)
                time.sleep(8)  # let the demo agent hang up before the next call queues
    print(f"\n{'all checks passed' if not checker.failed else f'{checker.failed} check(s) failed'}")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
