"""The call records of a store as the web API serves them (the read side's records as JSON), for store tests."""

from __future__ import annotations

from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore


class RecordApi:
    def __init__(self, store: SqlCallStore) -> None:
        self._queries = SqlCallQueries(store.engine)

    async def get_call(self, call_id: str) -> dict | None:
        call = await self._queries.get_call(call_id)
        return None if call is None else call.to_json()

    async def list_calls(self, **query) -> list[dict]:
        return [call.summary_json() for call in await self._queries.list_calls(**query)]

    async def handoff_for(self, call_id: str) -> dict | None:
        return await self._queries.handoff_for(call_id)
