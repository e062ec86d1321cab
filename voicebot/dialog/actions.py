"""Backend actions for ``call`` steps: HTTP webhooks (httpx) and registered Python functions.

A function is registered by name on an :class:`ActionRegistry` (``@registry.register("name")``); it
receives the call context ``{call_id, caller_id, flow, slots, vars, params}`` and returns a dict (it
may be async; a plain function runs in a worker thread so it cannot stall the event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
import structlog

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)

_SECRET_KEYS = re.compile(r"(token|key|secret|pass|pwd|auth|session|sig|pin|code)", re.I)


def redact_url(url: str) -> str:
    """The URL without its credentials and with the values of its query string replaced by ``***`` (a
    session token in a webhook URL must not reach the call record, where it could be replayed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    if parts.username or parts.password:
        netloc = "***@" + netloc
    query = "&".join(f"{key}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    path = "/".join("***" if _SECRET_KEYS.search(previous) else segment
                    for previous, segment in zip(["", *parts.path.split("/")], parts.path.split("/")))
    return urlunsplit((parts.scheme, netloc, path, query, ""))

ActionFn = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One rendered call: the webhook URL or function name, and what to send."""

    kind: Literal["webhook", "function"]
    target: str  # URL path (or full URL) for a webhook, name for a function
    method: str = "POST"
    timeout_s: float = 4.0
    context: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    step: str = ""  # where in the flow (for the operators' log)


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """``ok``: a result; ``fail``: the backend refused (HTTP 4xx); ``error``: timeout, network, 5xx, bug."""

    status: Literal["ok", "fail", "error"]
    data: dict[str, Any]
    detail: str


class ActionRegistry:
    """Python functions flows may call by name."""

    def __init__(self) -> None:
        self._functions: dict[str, ActionFn] = {}

    def register(self, name: str) -> Callable[[ActionFn], ActionFn]:
        def decorator(fn: ActionFn) -> ActionFn:
            self._functions[name] = fn
            return fn

        return decorator

    def get(self, name: str) -> ActionFn:
        return self._functions[name]

    def names(self) -> list[str]:
        return sorted(self._functions)


def make_reference(context: Mapping[str, Any]) -> dict[str, Any]:
    """A short, speakable reference (two letters, four digits), stable for the same call and params."""
    seed = json.dumps([context.get("call_id"), context.get("params")], sort_keys=True, default=str)
    digest = hashlib.sha256(seed.encode()).digest()
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    code = letters[digest[0] % len(letters)] + letters[digest[1] % len(letters)]
    return {"reference": f"{code}{int.from_bytes(digest[2:6], 'big') % 10000:04d}"}


def default_registry() -> ActionRegistry:
    """A registry with the built-in functions."""
    registry = ActionRegistry()
    registry.register("make_reference")(make_reference)
    return registry


SERVICE_PLACEHOLDER = "{service}"


class ActionRunner:
    """Runs call steps. ``base_url`` (settings.dialog.backend_url) overrides a bundle's backend URL;
    ``{service}`` in a backend URL stands for this voicebot's own web address (the demo backend)."""

    def __init__(
        self,
        registry: ActionRegistry | None = None,
        client: httpx.AsyncClient | None = None,
        base_url: str | None = None,
        service_url: str = "http://127.0.0.1:8080",
    ) -> None:
        self.registry = registry or default_registry()
        self._client = client
        self._own_client = client is None
        self.base_url = base_url
        self.service_url = service_url.rstrip("/")

    async def run(self, request: ActionRequest, bundle_backend: str | None = None) -> ActionOutcome:
        if request.kind == "function":
            outcome = await self._function(request)
        else:
            outcome = await self._webhook(request, bundle_backend)
        if outcome.status != "ok":  # operations see every backend fault, with the call it hit
            events.warning("backend action failed", call_id=request.context.get("call_id"),
                           flow=request.context.get("flow"), step=request.step, status=outcome.status,
                           cause=outcome.detail)
        return outcome

    async def _function(self, request: ActionRequest) -> ActionOutcome:
        try:
            fn = self.registry.get(request.target)
        except KeyError:
            return ActionOutcome("error", {}, f"no registered function {request.target!r}")
        try:
            if inspect.iscoroutinefunction(fn):
                result = await asyncio.wait_for(fn(dict(request.context)), request.timeout_s)
            else:
                result = await asyncio.wait_for(
                    asyncio.to_thread(fn, dict(request.context)), request.timeout_s
                )
        except TimeoutError:
            return ActionOutcome(
                "error", {}, f"function {request.target} timed out after {request.timeout_s:g} s"
            )
        except Exception as exc:  # a designer's function failing must not take the call down
            log.warning("action function %s failed", request.target, exc_info=True)
            return ActionOutcome("error", {}, f"function {request.target} raised {type(exc).__name__}: {exc}")
        if not isinstance(result, Mapping):
            return ActionOutcome(
                "error", {}, f"function {request.target} returned {type(result).__name__}, not a dict"
            )
        return ActionOutcome("ok", dict(result), f"function {request.target} ok")

    def url_for(self, target: str, bundle_backend: str | None) -> str:
        target = target.replace(SERVICE_PLACEHOLDER, self.service_url)
        if target.startswith(("http://", "https://")):
            return target
        base = (self.base_url or bundle_backend or "").replace(SERVICE_PLACEHOLDER, self.service_url)
        if not base:
            raise ValueError(
                f"webhook {target!r} has no backend URL (bundle 'backend' or settings.dialog.backend_url)"
            )
        return base.rstrip("/") + "/" + target.lstrip("/")

    async def _webhook(self, request: ActionRequest, bundle_backend: str | None) -> ActionOutcome:
        try:
            url = self.url_for(request.target, bundle_backend)
        except ValueError as exc:
            return ActionOutcome("error", {}, str(exc))
        client = self._client_for_use()
        label = f"webhook {request.method} {redact_url(url)}"  # stored in the turn's decision: no secrets
        try:
            if request.method == "GET":
                response = await client.get(url, timeout=request.timeout_s, headers=dict(request.headers))
            else:
                body = json.dumps(dict(request.context), default=str)
                response = await client.post(
                    url,
                    content=body,
                    timeout=request.timeout_s,
                    headers={"content-type": "application/json", **request.headers},
                )
        except httpx.TimeoutException:
            return ActionOutcome("error", {}, f"{label} timed out after {request.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return ActionOutcome("error", {}, f"{label} failed: {type(exc).__name__} {exc}")
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if response.status_code >= 500:
            return ActionOutcome(
                "error", data if isinstance(data, dict) else {}, f"{label} → HTTP {response.status_code}"
            )
        if not isinstance(data, dict):
            return ActionOutcome(
                "error", {}, f"{label} → HTTP {response.status_code}, answer is not a JSON object"
            )
        data.setdefault("ok", response.is_success)
        data.setdefault("status", response.status_code)
        if response.status_code >= 400:
            return ActionOutcome("fail", data, f"{label} → HTTP {response.status_code}")
        return ActionOutcome("ok", data, f"{label} → HTTP {response.status_code}")

    def _client_for_use(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None
