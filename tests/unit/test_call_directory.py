import asyncio

import pytest

from voicebot.call.directory import CallInfo, MemoryCallDirectory


async def test_announcement_is_taken_once_case_insensitively():
    directory = MemoryCallDirectory()
    await directory.announce("ABC-1", CallInfo(caller_id="+15550001", dnis="100", variables={"tier": "gold"}))
    info = await directory.take("abc-1")
    assert info.caller_id == "+15550001" and info.dnis == "100" and info.variables == {"tier": "gold"}
    assert await directory.take("abc-1") == CallInfo()


async def test_unannounced_call_gets_empty_info():
    assert await MemoryCallDirectory().take("nobody") == CallInfo()


async def test_expired_and_overflowing_announcements_are_dropped():
    directory = MemoryCallDirectory(ttl_s=0.0)
    await directory.announce("a", CallInfo(caller_id="1"))
    assert await directory.take("a") == CallInfo()
    bounded = MemoryCallDirectory(capacity=2)
    for call_id in "xyz":
        await bounded.announce(call_id, CallInfo(caller_id=call_id))
    assert await bounded.take("x") == CallInfo()
    assert (await bounded.take("z")).caller_id == "z"


async def test_a_stopping_service_waits_for_the_handoff_lookups_of_its_calls() -> None:
    directory = MemoryCallDirectory()
    first, second = "5f0b5a4e-0000-4000-8000-000000000001", "5f0b5a4e-0000-4000-8000-000000000002"
    await directory.handoff_looked_up(first)

    async def dialplan_asks_later() -> None:
        await asyncio.sleep(0.05)
        await directory.handoff_looked_up(second.upper())

    asker = asyncio.create_task(dialplan_asks_later())
    assert await directory.wait_for_lookups([first, second], timeout_s=2.0) == set()
    await asker
    third = "5f0b5a4e-0000-4000-8000-000000000003"
    started = asyncio.get_running_loop().time()
    assert await directory.wait_for_lookups([first, third], timeout_s=0.1) == {third}  # never asked: give up
    assert asyncio.get_running_loop().time() - started < 1.0


def test_call_info_round_trips_as_json_and_refuses_other_shapes():
    info = CallInfo(caller_id="+15550001", dnis="100", flow="retail", variables={"tier": "gold"})
    assert CallInfo.from_json(info.to_json()) == info
    assert CallInfo.from_json({}) == CallInfo()
    for bad in ([], "x", {"caller_id": 5}, {"flow": ["a"]}, {"variables": {"tier": 1}}, {"variables": "a=b"}):
        with pytest.raises(ValueError):
            CallInfo.from_json(bad)
