"""Tools for dialog designers: conversation tests (text and audio), chat, graph, the designer commands."""
