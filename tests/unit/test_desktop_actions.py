"""An agent's scheduled callback as the desktop reads it: the number kept to its digits, the time read in the
call centre's time zone and stored in UTC, and the times it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voicebot.config import DesktopSettings
from voicebot.web.desktop import action_data
from voicebot.web.people import Refused

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
BERLIN = DesktopSettings(timezone="Europe/Berlin")


def test_the_callback_time_is_read_in_the_call_centres_time_zone() -> None:
    data = action_data("callback", {"number": "+1 (555) 010-1001", "when": "2026-12-07T10:30", "text": "card"},
                       BERLIN, NOW)
    assert data == {"number": "+15550101001", "when": "2026-12-07T10:30", "at": "2026-12-07T09:30:00+00:00",
                    "text": "card"}
    utc = action_data("callback", {"number": "5550101", "when": "2026-12-05T09:30"}, DesktopSettings(), NOW)
    assert (utc["number"], utc["at"]) == ("5550101", "2026-12-05T09:30:00+00:00")


@pytest.mark.parametrize("when", ["2026-12-05T09:58", "2027-01-05T10:01", "soon", ""])  # Berlin: past, > 30 days
def test_a_callback_time_in_the_past_too_far_or_unreadable_is_refused(when: str) -> None:
    with pytest.raises(Refused) as refused:
        action_data("callback", {"number": "+15550101001", "when": when}, BERLIN, NOW)
    assert refused.value.status == 422


@pytest.mark.parametrize("number", ["12", "PJSIP/1001", "+1555;Hangup", "5550101001" * 4])
def test_a_callback_number_that_is_not_a_phone_number_is_refused(number: str) -> None:
    with pytest.raises(Refused):
        action_data("callback", {"number": number, "when": "2026-12-05T12:00"}, BERLIN, NOW)


def test_a_tickets_contact_from_the_form_is_normalised_and_may_be_cleared_or_left_to_the_caller_id() -> None:
    assert action_data("ticket", {"text": "send a card", "contact": " +1 202 555 0143"}, BERLIN, NOW) == {
        "text": "send a card", "contact": "+12025550143"}
    assert action_data("ticket", {"text": "send a card", "contact": ""}, BERLIN, NOW)["contact"] == ""
    assert action_data("ticket", {"text": "send a card"}, BERLIN, NOW) == {"text": "send a card"}  # the caller id


@pytest.mark.parametrize("fields", [{"text": "send a card", "contact": "call me"}, {"text": " ", "contact": "1001"}])
def test_a_ticket_with_a_contact_that_is_no_number_or_without_text_is_refused(fields: dict[str, str]) -> None:
    with pytest.raises(Refused) as refused:
        action_data("ticket", fields, BERLIN, NOW)
    assert refused.value.status == 422
