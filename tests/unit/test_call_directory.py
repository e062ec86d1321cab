from voicebot.call.directory import CallDirectory, CallInfo


def test_announcement_is_taken_once_case_insensitively():
    directory = CallDirectory()
    directory.announce("ABC-1", CallInfo(caller_id="+15550001", dnis="100", variables={"tier": "gold"}))
    info = directory.take("abc-1")
    assert info.caller_id == "+15550001" and info.dnis == "100" and info.variables == {"tier": "gold"}
    assert directory.take("abc-1") == CallInfo()


def test_unannounced_call_gets_empty_info():
    assert CallDirectory().take("nobody") == CallInfo()


def test_expired_and_overflowing_announcements_are_dropped():
    directory = CallDirectory(ttl_s=0.0)
    directory.announce("a", CallInfo(caller_id="1"))
    assert directory.take("a") == CallInfo()
    bounded = CallDirectory(capacity=2)
    for call_id in "xyz":
        bounded.announce(call_id, CallInfo(caller_id=call_id))
    assert bounded.take("x") == CallInfo()
    assert bounded.take("z").caller_id == "z"


async def test_a_stopping_service_waits_for_the_handoff_lookups_of_its_calls() -> None:
    import asyncio

    directory = CallDirectory()
    first, second = "5f0b5a4e-0000-4000-8000-000000000001", "5f0b5a4e-0000-4000-8000-000000000002"
    directory.handoff_looked_up(first)

    async def dialplan_asks_later() -> None:
        await asyncio.sleep(0.05)
        directory.handoff_looked_up(second.upper())

    asker = asyncio.create_task(dialplan_asks_later())
    assert await directory.wait_for_lookups([first, second], timeout_s=2.0) == set()
    await asker
    third = "5f0b5a4e-0000-4000-8000-000000000003"
    started = asyncio.get_running_loop().time()
    assert await directory.wait_for_lookups([first, third], timeout_s=0.1) == {third}  # never asked: give up
    assert asyncio.get_running_loop().time() - started < 1.0
