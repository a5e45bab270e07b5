"""Scenario files: loading with positions, validation, and the running rules."""
