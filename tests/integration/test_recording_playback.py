"""Recording playback on the real web app (uvicorn, SQLite, httpx): the whole file, byte ranges (206 with
Content-Range), ranges past the end (416), who may listen (read tokens; supervisors, QA, admins; the agent who
took the call, not another), and the audit of playbacks (not of seeks)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from recording_site import TOOK_THE_CALL, RecordingSite, serve_recording_site

from voicebot.web.auth import SESSION_COOKIE


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingSite]:
    with serve_recording_site(tmp_path_factory.mktemp("recordings")) as site:
        yield site


def api(site: RecordingSite, call_id: str | None = None, token: str | None = None,
        headers: dict[str, str] | None = None) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token or site.read_token}"}
    return httpx.get(f"{site.url}/api/calls/{call_id or site.call_id}/recording", headers=auth | (headers or {}))


def as_person(site: RecordingSite, name: str | None, call_id: str | None = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
    cookies = {SESSION_COOKIE: site.sessions[name]} if name else {}
    return httpx.get(f"{site.url}/calls/{call_id or site.call_id}/recording", cookies=cookies,
                     headers=headers or {})


def test_the_whole_recording_with_a_read_token(site: RecordingSite) -> None:
    response = api(site)
    assert response.status_code == 200 and response.content == site.recording
    assert response.headers["content-type"] == "audio/wav" and response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(site.recording)
    assert site.recording[:4] == b"RIFF" and site.recording[8:12] == b"WAVE"


@pytest.mark.parametrize(("range_", "start", "end"), [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, None),
                                                       ("bytes=-50", None, None), ("bytes=44-44", 44, 44)])
def test_byte_ranges_are_partial_content(site: RecordingSite, range_: str, start: int | None,
                                         end: int | None) -> None:
    size = len(site.recording)
    response = api(site, headers={"Range": range_})
    assert response.status_code == 206
    if start is None:  # a suffix: the last 50 bytes
        start, end = size - 50, size - 1
    end = size - 1 if end is None else end
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.content == site.recording[start:end + 1]
    assert int(response.headers["content-length"]) == end - start + 1


def test_a_range_past_the_end_is_not_satisfiable(site: RecordingSite) -> None:
    size = len(site.recording)
    response = api(site, headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416 and response.headers["content-range"] == f"bytes */{size}"
    assert api(site, headers={"Range": f"bytes={size + 10}-{size + 20}"}).status_code == 416
    assert api(site, headers={"Range": "bytes=x-y"}).status_code == 400  # malformed: a clear 4xx


def test_bad_credentials_and_unknown_calls_are_refused(site: RecordingSite) -> None:
    assert httpx.get(f"{site.url}/api/calls/{site.call_id}/recording").status_code == 401
    assert api(site, token="vbt_not-a-token").status_code == 401
    assert api(site, token=site.dialplan_token).status_code == 403
    assert api(site, call_id=site.unrecorded_call_id).status_code == 404
    assert api(site, call_id="not-a-uuid").status_code == 422


def test_who_may_listen_on_the_call_page(site: RecordingSite) -> None:
    for name in ("sue", "quinn", "ada", TOOK_THE_CALL):
        response = as_person(site, name, headers={"Range": "bytes=0-"})
        assert response.status_code == 206 and response.content == site.recording, name
    assert as_person(site, "bob").status_code == 403  # an agent who did not take the call
    assert as_person(site, None).status_code == 401
    assert as_person(site, "sue", call_id=site.unrecorded_call_id).status_code == 404
    assert as_person(site, "sue", call_id="nope").status_code == 404


def test_each_playback_is_audited_and_seeking_is_not(site: RecordingSite) -> None:
    site.played.clear()
    as_person(site, "quinn")
    as_person(site, "quinn", headers={"Range": "bytes=2000-"})  # the player seeks: the same playback
    api(site, headers={"Range": "bytes=0-1"})
    assert site.played == [("quinn", "qa", site.call_id), ("qa-script", "read", site.call_id)]
