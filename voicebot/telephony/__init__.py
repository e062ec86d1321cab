"""Telephony control: the PBX's call and queue actions behind ``engines.TelephonyControl`` (AMI for
Asterisk)."""
