"""The caller side: a simulator playing Asterisk's part (scripts, caller voices), the call benchmarks."""
