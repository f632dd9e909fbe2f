"""``python -m sprockets_http demo``: offline, in seconds, exit 0, showing
two 503 attempts with 1.0 s waits and the decoded body."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs():
    result = subprocess.run(
        [sys.executable, "-m", "sprockets_http", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    attempts = re.findall(r"attempt (\d) of (\d): (\d{3})[^\n]*", output)
    assert [(n, code) for n, _total, code in attempts] == [
        ("1", "503"),
        ("2", "503"),
        ("3", "200"),
    ]
    waits = re.findall(r"attempt \d of \d: 503[^\n]*waited 1\.0 s", output)
    assert len(waits) == 2
    # the decoded msgpack body, rendered
    assert "hello from upstream" in output
    assert re.search(r'"attempt":\s*3', output)
