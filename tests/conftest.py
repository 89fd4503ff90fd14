"""Fixtures shared by test files: the browser tests' one JupyterLab and one Chromium.

Defined in tests/browser_lab.py and registered here once, so every browser test of a
session gets the same instances (a fixture imported into each test module would be a
separate fixture per module, and start a second Playwright).
"""
from browser_lab import browser, lab  # noqa: F401
