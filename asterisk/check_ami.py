#!/usr/bin/env python3
"""Checks voicebot's AMI client (voicebot/telephony/ami.py) against a running Asterisk, as asterisk/README.md
sets it up (its *Call and queue control (AMI)* section).

    .venv/bin/python asterisk/check_ami.py                    # credentials from asterisk/manager.conf
    .venv/bin/python asterisk/check_ami.py --manager-conf /etc/asterisk/manager.conf --user voicebot-control

Logs in with the ``[voicebot-control]`` user of manager.conf (and checks that a wrong secret is refused),
reads the status of every queue, adds a member to the first queue of asterisk/queues.conf, pauses, resumes
and removes it, originates a Local channel into the demo agent (``[voicebot-demo-agent]``), sets and reads
back a variable on it and redirects it, and checks that the queue member events arrived. Prints one line
per check and exits 1 if any failed. Run it from the voicebot checkout with voicebot's virtualenv.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from pathlib import Path

from pydantic import SecretStr

from voicebot.config import AmiSettings
from voicebot.engines import TelephonyError
from voicebot.telephony.ami import AmiClient
from voicebot.types import OriginateRequest, TelephonyEvent

HERE = Path(__file__).resolve().parent
MEMBER = "Local/check-ami@voicebot-demo-agent/n"  # never rung: the member is paused, then removed
AGENT_CONTEXT, AGENT_EXTEN = "voicebot-demo-agent", "agent"  # answers, waits 5 s, hangs up


def conf_sections(path: Path) -> dict[str, dict[str, str]]:
    """An Asterisk .conf file's sections and their ``key = value`` lines (comments dropped, first kept)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if m := re.match(r"\[([^\]]+)\](\(.*\))?", line):
            current = sections.setdefault(m.group(1), {}) if m.group(2) != "(!)" else None
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current.setdefault(key.strip().rstrip(">").strip(), value.strip())
    return sections


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def report(self, ok: bool, what: str, detail: str = "") -> bool:
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {what}{f' ({detail})' if detail else ''}", flush=True)
        return ok


async def next_event(events: list[TelephonyEvent], name: str, interface: str, timeout: float = 3.0) -> bool:
    """Wait until an event ``name`` about ``interface`` has arrived."""
    for _ in range(int(timeout / 0.05)):
        if any(e.name == name and e.fields.get("Interface") == interface for e in events):
            return True
        await asyncio.sleep(0.05)
    return False


async def run(args: argparse.Namespace) -> int:
    manager = conf_sections(args.manager_conf)
    general, user = manager.get("general", {}), manager.get(args.user)
    checks = Checks()
    if not checks.report(user is not None, f"user [{args.user}] in {args.manager_conf}"):
        return 1
    assert user is not None
    host = args.host or general.get("bindaddr", "127.0.0.1")
    settings = AmiSettings(
        enabled=True,
        host="127.0.0.1" if host == "0.0.0.0" else host,
        port=args.port or int(general.get("port", "5038")),
        username=args.user,
        secret=SecretStr(args.secret or user.get("secret", "")),
        ping_interval_s=0,
    )
    queues = [name for name in conf_sections(args.queues_conf) if name != "general"]
    queue = args.queue or queues[0]

    wrong = AmiClient(settings.model_copy(update={"secret": SecretStr(f"not-{uuid.uuid4().hex}")}))
    try:
        await wrong.start()
        checks.report(False, "a wrong secret is refused", "it was accepted")
    except TelephonyError as error:
        checks.report("Authentication failed" in str(error), "a wrong secret is refused", str(error))
    finally:
        await wrong.close()

    client = AmiClient(settings)
    try:
        await client.start()
    except TelephonyError as error:
        checks.report(False, f"login as {args.user} on {settings.host}:{settings.port}", str(error))
        return 1
    checks.report(True, f"login as {args.user} on {settings.host}:{settings.port}")
    stream = client.events()
    events: list[TelephonyEvent] = []

    async def collect() -> None:
        async for event in stream:
            events.append(event)

    collector = asyncio.create_task(collect())
    try:
        await checks_on(client, checks, queue, queues, events)
    finally:
        collector.cancel()
        await client.close()
    print(f"{'all checks passed' if not checks.failed else f'{checks.failed} check(s) failed'}")
    return 1 if checks.failed else 0


async def checks_on(
    client: AmiClient, checks: Checks, queue: str, queues: list[str], events: list[TelephonyEvent]
) -> None:
    status = {q.queue: q for q in await client.queue_status()}
    missing = sorted(set(queues) - set(status))
    checks.report(
        not missing,
        f"QueueStatus lists the {len(queues)} queues of queues.conf",
        f"missing: {', '.join(missing)}"
        if missing
        else ", ".join(f"{q.queue}: {len(q.members)} member(s), {q.calls} waiting" for q in status.values()),
    )

    try:
        await client.add_queue_member(queue, MEMBER, name="voicebot check_ami", paused=True)
        [after] = await client.queue_status(queue)
        member = next((m for m in after.members if m.interface == MEMBER), None)
        checks.report(
            member is not None and member.dynamic and member.paused,
            f"QueueAdd {MEMBER} to {queue} (paused)",
            repr(member),
        )
        checks.report(await next_event(events, "QueueMemberAdded", MEMBER), "QueueMemberAdded event received")
        await client.pause_queue_member(MEMBER, False, queue)
        await client.pause_queue_member(MEMBER, True, queue, reason="check_ami")
        [after] = await client.queue_status(queue)
        member = next((m for m in after.members if m.interface == MEMBER), None)
        checks.report(
            member is not None and member.paused and member.paused_reason == "check_ami",
            "QueuePause: resumed, then paused with a reason",
            repr(member),
        )
        checks.report(await next_event(events, "QueueMemberPause", MEMBER), "QueueMemberPause event received")
        try:
            await client.add_queue_member(queue, MEMBER)
            checks.report(False, "a second QueueAdd of the same member is refused")
        except TelephonyError as error:
            checks.report(
                "Already there" in str(error), "a second QueueAdd of the same member is refused", str(error)
            )
    except TelephonyError as error:
        checks.report(False, f"queue member actions on {queue}", str(error))
    finally:
        try:
            await client.remove_queue_member(queue, MEMBER)
            [after] = await client.queue_status(queue)
            checks.report(all(m.interface != MEMBER for m in after.members), f"QueueRemove {MEMBER}")
            checks.report(
                await next_event(events, "QueueMemberRemoved", MEMBER), "QueueMemberRemoved event received"
            )
        except TelephonyError as error:
            checks.report(False, f"QueueRemove {MEMBER}", str(error))

    channel_id = f"check-ami-{uuid.uuid4().hex[:12]}"
    try:
        result = await client.originate(
            OriginateRequest(
                f"Local/{AGENT_EXTEN}@{AGENT_CONTEXT}",
                AGENT_CONTEXT,
                AGENT_EXTEN,
                timeout_s=10,
                caller_id="check_ami <5550000>",
                variables={"VOICEBOT_UUID": channel_id},
                channel_id=channel_id,
            )
        )
        if not checks.report(
            result.success and result.unique_id == channel_id,
            "Originate a Local channel (async, OriginateResponse)",
            repr(result),
        ):
            return
        await client.set_variable(result.channel, "VOICEBOT_CHECK", "set-by-check_ami")
        value = await client.get_variable(result.channel, "VOICEBOT_CHECK")
        checks.report(
            value == "set-by-check_ami", f"Setvar on {result.channel}, read back with Getvar", value
        )
        checks.report(
            await client.get_variable(result.channel, "VOICEBOT_UUID") == channel_id,
            "Originate's Variable set on the new channel",
        )
        await client.redirect(result.channel, AGENT_CONTEXT, AGENT_EXTEN)
        checks.report(True, f"Redirect {result.channel} to {AGENT_EXTEN}@{AGENT_CONTEXT}")
    except TelephonyError as error:
        checks.report(False, "Originate / Setvar / Redirect", str(error))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manager-conf", type=Path, default=HERE / "manager.conf")
    parser.add_argument("--queues-conf", type=Path, default=HERE / "queues.conf")
    parser.add_argument("--user", default="voicebot-control")
    parser.add_argument("--secret", help="default: the user's secret in --manager-conf")
    parser.add_argument("--host", help="default: bindaddr of [general]")
    parser.add_argument("--port", type=int, help="default: port of [general]")
    parser.add_argument("--queue", help="default: the first queue of --queues-conf")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
