"""Debian's chromium for the page tests, driven by Playwright (``make browser`` installs it).

Flags as this machine needs them: no sandbox (tests run as root), no GPU, and none of the
background connections to Google's hosts that a closed network refuses by the dozen.
"""

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
