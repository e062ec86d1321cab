#!/usr/bin/env python3
"""Check the agent desktop against a real Asterisk: presence in `queue show`, the screen pop, the briefing, a callback.

    python3 asterisk/check_desktop.py        # from the voicebot checkout; --help

Needs voicebot serving with the AMI link and the banking queue's briefing on (asterisk/README.md, *Check the
agent desktop*) and Asterisk set up as that guide says. From the voicebot checkout, it makes (or resets) an
agent ``check-desk`` whose phone is the demo member ``Local/desk@voicebot-demo-agent/n`` in ``banking``
(with the ``voicebot`` CLI), logs in as them on the web app, follows their desktop's server-sent events
(``/desktop/events``), and checks: *available* adds the member to ``voicebot-banking`` (``queue show``),
*break* pauses it with the reason, *available* again unpauses it; a test call (``dtmf@voicebot-test``, the
static demo member paused meanwhile) handed off to banking reads ``&briefing=1``, is connected to this agent's
member, the pop of that call reaches their events, the briefing file was written and Asterisk played it on the
member's channel (its log); then the agent schedules a callback to the caller for now (the desktop's action):
once the agent is free again (after the call and its wrap-up) voicebot's scheduler originates the customer's leg
(``VOICEBOT_CALLBACKS__CHANNEL=Local/{number}@voicebot-demo-customer``, which answers), ``[voicebot-callback]``
queues them at their place, Asterisk connects them to the agent's member, and the pop of the original call
(``VOICEBOT_UUID``) arrives as a callback; *offline* removes the member. One PASS/FAIL line per check; exit 1 if
any failed. Standard library only, plus asterisk/check.py beside it.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check import HANDOFF_LINE, Checker  # noqa: E402 - asterisk/check.py, beside this file

ROOT = Path(__file__).resolve().parents[1]
STATIC_MEMBER = "Local/agent@voicebot-demo-agent/n"  # queues.conf's demo member: paused during the test call
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# [voicebot-callback]'s Log(NOTICE) line before its Queue()
CALLBACK_QUEUED = re.compile(r"voicebot callback (?P<id>\w+): Queue\((?P<queue>[^)]+)\) priority (?P<priority>-?\d+) "
                             r"position (?P<position>\d+)")


class Desk:
    """One agent's web session: login, forms with the page's CSRF token, and their event stream."""

    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""
        self.events: list[dict] = []

    def open(self, path: str, form: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, str]:
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.api + path, data=data, headers={"Origin": self.api})
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def login(self, name: str, password: str) -> bool:
        _, page = self.open("/login")
        token = CSRF.search(page)
        status, home = self.open("/login", {"csrf": token.group(1) if token else "", "next": "/",
                                            "username": name, "password": password})
        found = CSRF.search(home)  # the redirect lands on the home page, whose forms carry the session's token
        self.csrf = found.group(1) if found else ""
        return status == 200 and bool(self.csrf)

    def presence(self, state: str, reason: str = "") -> tuple[int, str]:
        return self.open("/desktop/presence", {"csrf": self.csrf, "state": state, "reason": reason})

    def action(self, call_id: str, kind: str, **fields: str) -> tuple[int, str]:
        return self.open("/desktop/actions", {"csrf": self.csrf, "call_id": call_id, "kind": kind, **fields})

    def follow(self) -> None:
        """Read /desktop/events into ``events`` (a daemon thread)."""
        def read() -> None:
            request = urllib.request.Request(self.api + "/desktop/events")
            with self.opener.open(request, timeout=600) as stream:
                kind = ""
                for raw in stream:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.events.append({"event": kind, **json.loads(line[6:])})
        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, test, timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for event in list(self.events):
                if test(event):
                    return event
            time.sleep(0.2)
        return None


def make_agent(voicebot: str, name: str, password: str, interface: str, queue: str) -> str:
    """Create the agent (or reset their password and phone) with voicebot's CLI, in the checkout."""
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([voicebot, "user", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                              timeout=60)
    added = run("add", name, "--role", "agent", "--interface", interface, "--queues", queue, "--password-stdin",
                stdin=password + "\n")
    if added.returncode == 0:
        return added.stderr.strip()
    run("passwd", name, "--password-stdin", stdin=password + "\n")
    return run("agent", name, "--interface", interface, "--queues", queue).stderr.strip()


def log_wait(check: Checker, offset: int, pattern: str, timeout: float) -> re.Match[str] | None:
    """The first match of ``pattern`` in Asterisk's log written since ``offset``, waiting up to ``timeout``."""
    end = time.monotonic() + timeout
    while True:
        found = re.search(pattern, check._log_since(offset))
        if found or time.monotonic() > end:
            return found
        time.sleep(0.5)


def member_line(queue_show: str, interface: str) -> str:
    """The ``queue show`` line of this member (colours removed), or ''."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", queue_show)
    return next((line.strip() for line in plain.splitlines() if interface in line), "")


def check_callback(check: Checker, desk: Desk, args: argparse.Namespace, call_id: str, queue: str) -> None:
    """The agent schedules a callback for now while on the call; voicebot dials it once the agent is free, and
    Asterisk brings the answered customer back to them, at their place, with the original call's pop."""
    offset = args.log.stat().st_size
    now = datetime.now(UTC).replace(microsecond=0).isoformat()  # with its offset: no time zone guessing
    status, body = desk.action(call_id, "callback", number=args.callback_number, when=now, text="check_desktop")
    check.result(status == 200, "the agent schedules a callback to the caller for now", body[:200] if status != 200
                 else f"{args.callback_number} at {now}")
    answered = log_wait(check, offset, rf"voicebot demo customer {args.callback_number} answered a callback",
                        args.callback_wait)
    check.result(bool(answered), "voicebot dials it once the agent is free: the customer answers (Originate)",
                 answered.group(0) if answered else f"no answer in {args.callback_wait:.0f} s (VOICEBOT_CALLBACKS__"
                 "CHANNEL, the agent's wrap-up, the AMI user's originate permission)")
    queued = log_wait(check, offset, CALLBACK_QUEUED.pattern, 10)
    check.result(bool(queued) and queued.group("queue") == queue and queued.group("position") == "1",
                 "[voicebot-callback] queues the customer at their place", queued.group(0) if queued else "no line")
    member = log_wait(check, offset, rf"voicebot demo desk agent: call {call_id}", 30)
    check.result(bool(member), "the callback is connected to the agent's member", args.interface)
    pop = desk.wait_for(lambda e: e.get("event") == "pop" and e.get("call_id") == call_id
                        and bool(e.get("callback")), 30)
    check.result(bool(pop), "the pop of the original call reaches the agent as a callback",
                 str(pop.get("callback")) if pop else "no second pop")
    time.sleep(16)  # the desk member hangs up after the callback too


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8080", help="voicebot's web API")
    parser.add_argument("--asterisk", default="asterisk", help="how to run the Asterisk CLI, e.g. 'sudo asterisk'")
    parser.add_argument("--log", type=Path, default=Path("/var/log/asterisk/voicebot.log"))
    parser.add_argument("--voicebot", default=str(ROOT / ".venv" / "bin" / "voicebot"), help="voicebot's CLI")
    parser.add_argument("--agent", default="check-desk")
    parser.add_argument("--interface", default="Local/desk@voicebot-demo-agent/n")
    parser.add_argument("--queue", default="banking", help="a bot queue with the briefing on")
    parser.add_argument("--briefings", type=Path, default=Path("/var/lib/asterisk/sounds/voicebot/briefings"),
                        help="voicebot's VOICEBOT_DESKTOP__BRIEFING_DIR")
    parser.add_argument("--callback-number", default="5550100",
                        help="the number the agent schedules a callback to (voicebot-demo-customer answers it)")
    parser.add_argument("--callback-wait", type=float, default=150.0,
                        help="seconds for the callback to come: the call's end, the agent's wrap-up, a poll")
    args = parser.parse_args()
    check = Checker(args.asterisk, args.api, args.log, Path("/nonexistent"), token="")  # its CLI, log and results
    queue = f"voicebot-{args.queue}"
    show = lambda: member_line(check.cli(f"queue show {queue}"), args.interface)  # noqa: E731

    password = secrets.token_urlsafe(16)
    check.result(True, "the agent is configured", make_agent(args.voicebot, args.agent, password, args.interface,
                                                             args.queue))
    desk = Desk(args.api)
    if not check.result(desk.login(args.agent, password), f"{args.agent} logs in to the web app"):
        return 1
    desk.follow()
    status, body = desk.presence("available")
    time.sleep(1)
    line = show()
    check.result(status == 200 and bool(line) and "paused" not in line,
                 f"available: the member is in queue show {queue}", line or body[:200])
    status, body = desk.presence("break", "checking the desk")
    time.sleep(1)
    line = show()
    check.result(status == 200 and "paused:checking the desk" in line, "break: the member is paused with the reason",
                 line or body[:200])
    desk.presence("available")
    time.sleep(1)
    line = show()
    check.result("paused" not in line and bool(line), "available again: the member is unpaused", line)

    check.cli(f"queue pause member {STATIC_MEMBER} queue {queue} reason check-desktop")
    try:
        offset = args.log.stat().st_size
        started = time.monotonic()
        check.cli("channel originate Local/1000@voicebot-inbound extension dtmf@voicebot-test")
        pop = desk.wait_for(lambda e: e.get("event") == "pop", 60)
        log = check._log_since(offset)
        handed = HANDOFF_LINE.search(log)
        call_id = handed.group("uuid") if handed else ""
        check.result(bool(handed) and handed.group("answer").endswith("&briefing=1"),
                     "the test call is handed off with the briefing", handed.group("answer") if handed else "none")
        check.result(f"voicebot demo desk agent: call {call_id}" in log if call_id else False,
                     "the call is connected to the agent's member", args.interface)
        check.result(bool(pop) and pop.get("call_id") == call_id and pop.get("agent") == args.agent,
                     "the pop of that call reaches the agent's /desktop/events",
                     f"after {time.monotonic() - started:.1f} s: {json.dumps(pop)[:160]}" if pop else "no pop")
        briefing = args.briefings / f"{call_id}.wav"
        check.result(briefing.exists(), "the briefing file was written", str(briefing))
        played = re.search(rf"Local/desk@voicebot-demo-agent-\w+;1.*Playing 'voicebot/briefings/{call_id}", log)
        check.result(bool(played), "Asterisk played the briefing to the member's channel",
                     played.group(0)[-120:] if played else "no 'Playing' line in the log")
        if call_id:
            check_callback(check, desk, args, call_id, queue)
        time.sleep(16)  # the desk member hangs up; the agent goes to wrap-up
    finally:
        check.cli(f"queue unpause member {STATIC_MEMBER} queue {queue}")
    status, body = desk.presence("offline")
    time.sleep(1)
    line = show()
    check.result(status == 200 and not line, "offline: the member is removed from the queue", line or "gone")
    print(f"\n{'all checks passed' if not check.failed else f'{check.failed} check(s) failed'}")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
