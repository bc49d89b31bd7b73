"""Agents: plain, testable code that turns the state of the day into proposals."""
