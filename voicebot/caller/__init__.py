"""The caller side: a simulator that plays Asterisk's part (scripts, caller voices) and the call benchmarks."""
