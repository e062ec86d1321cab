"""Settings an operator can trust: paths that do not depend on where the service starts, every setting in the
README's table, and routes that say when a call runs the default flow."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel
from structlog.testing import capture_logs

from voicebot.call.directory import CallInfo, FlowRouter
from voicebot.config import CHECKOUT, Settings

FLOWS = ("banking", "example", "retail")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the checkout, and no VOICEBOT_* settings."""
    for name in list(os.environ):
        if name.startswith("VOICEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_paths_are_the_checkouts_wherever_the_service_starts(elsewhere: Path) -> None:
    paths = Settings().paths()
    assert paths.flows == CHECKOUT / "dialogs" and (paths.flows / "banking.yaml").exists()
    assert paths.models == CHECKOUT / "models" and (paths.models / "manifest.toml").exists()
    assert paths.model_cache == CHECKOUT / "models" / "cache"
    assert paths.store_url == f"sqlite+aiosqlite:///{CHECKOUT / 'var' / 'voicebot.db'}"
    for path in (paths.prompt_cache, paths.spool, paths.demo_db):
        assert path.is_relative_to(CHECKOUT / "var"), path
    assert not any(elsewhere.iterdir())  # reading settings creates nothing here


def test_paths_follow_the_settings_from_another_directory(elsewhere: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = elsewhere / "data"
    monkeypatch.setenv("VOICEBOT_DIALOG__DIR", str(CHECKOUT / "dialogs"))
    monkeypatch.setenv("VOICEBOT_MODELS_DIR", str(data / "models"))
    monkeypatch.setenv("VOICEBOT_STORE__URL", "sqlite+aiosqlite:///data/calls.db")  # relative: to the cwd
    monkeypatch.setenv("VOICEBOT_STORE__SPOOL_DIR", "data/spool")
    monkeypatch.setenv("VOICEBOT_SPEECH__PROMPT_CACHE_DIR", str(data / "prompts"))
    paths = Settings().paths()
    assert paths.flows == CHECKOUT / "dialogs"
    assert (paths.models, paths.model_cache) == (data / "models", data / "models" / "cache")
    assert paths.store_url == f"sqlite+aiosqlite:///{data / 'calls.db'}"
    assert (paths.spool, paths.prompt_cache) == (data / "spool", data / "prompts")
    assert paths.demo_db == data / "demo.db"  # beside the call store, not beside the spool
    monkeypatch.setenv("VOICEBOT_WEB__DEMO_DB", str(elsewhere / "backoffice" / "demo.db"))
    monkeypatch.setenv("VOICEBOT_STORE__URL", "postgresql+asyncpg://voicebot:secret@db.internal/voicebot")
    paths = Settings().paths()
    assert paths.demo_db == elsewhere / "backoffice" / "demo.db"
    assert paths.store_url == "postgresql+asyncpg://voicebot:secret@db.internal/voicebot"
    monkeypatch.delenv("VOICEBOT_WEB__DEMO_DB")
    assert Settings().paths().demo_db == CHECKOUT / "var" / "demo.db"


def _environment_names(model: type[BaseModel], prefix: str = "VOICEBOT_") -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _environment_names(kind, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


def _readme_names() -> set[str]:
    """Settings named in the first column of README's configuration table (``A__X`` / ``__Y`` = ``A__Y``)."""
    section = (CHECKOUT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in re.findall(r"^\| (`VOICEBOT_[^|]+)\|", section, re.M):
        full = ""
        for token in re.findall(r"`([^`]+)`", row):
            if token.startswith("VOICEBOT_"):
                full = token
            elif token.startswith("__"):
                token = full.rsplit("__", 1)[0] + token
            names.add(token)
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    settings, documented = _environment_names(Settings), _readme_names()
    assert "VOICEBOT_MODELS_DIR" in settings and "VOICEBOT_WEB__DEMO_DB" in settings
    assert not settings - documented, f"settings missing from README's configuration table: {settings - documented}"
    assert not documented - settings, f"README documents settings that do not exist: {documented - settings}"


def test_announced_flow_then_route_then_default() -> None:
    router = FlowRouter("banking", {"5552000": "retail"}, frozenset({"example"}))
    assert router.choose(CallInfo(dnis="5552000", flow="banking"), FLOWS) == "banking"
    assert router.choose(CallInfo(dnis="5552000"), FLOWS) == "retail"


def test_a_number_without_a_route_runs_the_default_flow_with_one_warning() -> None:
    router = FlowRouter("banking", {"5552000": "retail"})
    with capture_logs() as logs:
        assert router.choose(CallInfo(dnis="5559999"), FLOWS) == "banking"
    assert logs == [{"event": "no route for the dialled number; running the default flow", "dnis": "5559999",
                     "flow": "banking", "log_level": "warning"}]
    with capture_logs() as logs:
        router.choose(CallInfo(dnis="5552000"), FLOWS)
    assert logs == []  # routed calls are not warned about


def test_a_route_to_a_flow_that_is_gone_runs_the_default_flow() -> None:
    router = FlowRouter("banking", {"5552000": "retail"})
    with capture_logs() as logs:
        assert router.choose(CallInfo(dnis="5552000"), ("banking",)) == "banking"
    assert [(e["route"], e["flow"], e["log_level"]) for e in logs] == [("retail", "banking", "warning")]


def test_the_example_bundle_is_not_routable_unless_configured() -> None:
    hidden = frozenset(Settings().dialog.hidden_flows)
    assert hidden == {"example"}
    production = FlowRouter("banking", {"5552000": "retail"}, hidden)
    assert not production.routable("example") and production.routable("retail")
    with capture_logs():
        assert production.choose(CallInfo(flow="example", dnis="5552000"), FLOWS) == "retail"
    assert FlowRouter("example", {}, hidden).routable("example")  # the default flow
    assert FlowRouter("banking", {"100": "example"}, hidden).choose(CallInfo(dnis="100"), FLOWS) == "example"
    assert FlowRouter("banking", {}, frozenset()).routable("example")  # VOICEBOT_DIALOG__HIDDEN_FLOWS=[]


def test_settings_naming_missing_flows_are_refused_at_start() -> None:
    FlowRouter("banking", {"1": "retail"}).check(FLOWS)
    with pytest.raises(ValueError, match="default flow 'bank'"):
        FlowRouter("bank").check(FLOWS)
    with pytest.raises(ValueError, match="route '1' -> 'shop'"):
        FlowRouter("banking", {"1": "shop"}).check(FLOWS)
