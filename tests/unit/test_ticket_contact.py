"""A ticket's contact, the number to call back: normalised to E.164 when ``phonenumbers`` parses it, kept as given
(spaces collapsed) when it does not, empty allowed, and text that is no phone number refused with a message."""

from __future__ import annotations

import pytest

from voicebot.store.tickets import caller_contact, contact_number


@pytest.mark.parametrize(("given", "kept"), [
    ("+1 202-555-0143", "+12025550143"),
    ("  +1 (202)  555 0143 ", "+12025550143"),
    ("+44 20 7946 0018", "+442079460018"),
    ("07700  900123", "07700 900123"),  # no country: as given
    ("(202) 555-0143", "(202) 555-0143"),
    ("1001", "1001"),  # an extension
    ("", ""),
    ("   ", ""),
])
def test_a_number_is_normalised_when_it_parses_and_kept_as_given_when_not(given: str, kept: str) -> None:
    assert contact_number(given) == kept


@pytest.mark.parametrize("text", ["anonymous", "12", "+12", "PJSIP/1001", "+1555;Hangup", "tel:+12025550143",
                                  "1-800-FLOWERS", "5550101001" * 4, "+1 202 555 0143 ext 12"])
def test_text_that_is_no_phone_number_is_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="a contact number is 3 to 15 digits"):
        contact_number(text)


@pytest.mark.parametrize(("caller_id", "kept"), [("+1 202 555 0143", "+12025550143"), ("anonymous", ""), ("", "")])
def test_a_caller_id_that_is_no_number_gives_a_ticket_without_one(caller_id: str, kept: str) -> None:
    assert caller_contact(caller_id) == kept
