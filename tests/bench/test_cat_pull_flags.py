"""bench/cat_pull.py refuses flag combinations that would time something else than
they say, with a clear message, before it touches any database."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flags, says", [
    (["--prepare-only", "--profile"], "--prepare-only writes nothing"),
    (["--write-only", "--prepare-only"], "opposite halves of the pull"),
    (["--write-only", "--profile"], "nothing fetched to profile"),
])
def test_contradictory_modes_are_refused(flags, says):
    done = subprocess.run([sys.executable, "-m", "bench.cat_pull", *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert says in done.stderr
