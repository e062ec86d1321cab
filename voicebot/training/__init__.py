"""Offline model work the service never loads: intent and emotion training, encoder adapters, evaluation."""
