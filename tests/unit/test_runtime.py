import asyncio
import threading

import pytest

from voicebot.runtime import InferencePool, Priority


async def test_runs_blocking_work_off_the_loop_and_returns_results():
    pool = InferencePool(2)
    try:
        loop_thread = threading.get_ident()
        result = await pool.run(lambda x, y=0: (threading.get_ident(), x + y), 2, y=3)
        assert result[1] == 5 and result[0] != loop_thread
    finally:
        pool.shutdown()


async def test_errors_reach_the_caller():
    pool = InferencePool(1)
    try:
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
    finally:
        pool.shutdown()


async def test_understanding_and_speech_never_wait_behind_queued_decodes():
    pool = InferencePool(1)
    gate = threading.Event()
    order: list[str] = []
    try:
        blocker = asyncio.ensure_future(pool.run(gate.wait))  # occupies the only worker
        await asyncio.sleep(0.05)
        decodes = [asyncio.ensure_future(pool.run(order.append, f"asr{i}")) for i in range(3)]
        urgent = asyncio.ensure_future(pool.run(order.append, "nlu", priority=Priority.UNDERSTAND))
        speech = asyncio.ensure_future(pool.run(order.append, "tts", priority=Priority.SPEAK))
        await urgent  # its own lane: done while the only decode worker is still busy
        assert order == ["nlu"] and pool.queued == 4
        gate.set()
        await asyncio.gather(blocker, speech, *decodes)
        assert order == ["nlu", "tts", "asr0", "asr1", "asr2"]
    finally:
        pool.shutdown()


async def test_cancelled_queued_job_never_runs():
    pool = InferencePool(1)
    gate = threading.Event()
    ran: list[int] = []
    try:
        blocker = asyncio.ensure_future(pool.run(gate.wait))
        await asyncio.sleep(0.05)
        doomed = asyncio.ensure_future(pool.run(ran.append, 1))
        await asyncio.sleep(0.01)
        doomed.cancel()
        await asyncio.sleep(0.01)  # the cancellation reaches the queued job on the next loop turn
        gate.set()
        await blocker
        await pool.run(ran.append, 2)
        assert ran == [2]
    finally:
        pool.shutdown()
