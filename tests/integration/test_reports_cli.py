"""``voicebot report`` on a SQLite file of known calls: JSON, CSV and text, and clear errors (exit 2)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from test_reports_store import NOW, _seed
from typer.testing import CliRunner

from voicebot.cli import app
from voicebot.store.repo import SqlCallStore


def test_report_prints_json_csv_and_text(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}"

    async def seed() -> None:
        store = await SqlCallStore.open(url, tmp_path / "spool")
        await _seed(store)
        await store.close()

    asyncio.run(seed())
    since = (NOW - timedelta(days=7)).date().isoformat()
    runner = CliRunner()
    answer = runner.invoke(app, ["report", "containment", "csat", "--from", since, "--json", "--url", url])
    assert answer.exit_code == 0, answer.output
    containment, csat = json.loads(answer.stdout)
    assert containment["figures"]["strict_rate"] == round(2 / 6, 4) and csat["rows"][0]["responses"] == 3
    table = runner.invoke(app, ["report", "queues", "--from", since, "--csv", "--url", url])
    (banking,) = list(csv.DictReader(io.StringIO(table.stdout)))
    assert (banking["queue"], banking["answered"], banking["abandoned"]) == ("banking", "2", "1")
    text = runner.invoke(app, ["report", "intents", "--from", since, "--flow", "banking", "--url", url])
    assert "check_balance" in text.stdout and "Intent mix" in text.stdout
    wrong = runner.invoke(app, ["report", "nonsense", "--url", url])
    assert wrong.exit_code == 2 and "no report 'nonsense'" in wrong.output
    bad = runner.invoke(app, ["report", "queues", "--to", "soon", "--url", url])
    assert bad.exit_code == 2 and "not a date" in bad.output
