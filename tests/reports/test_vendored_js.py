"""The vendored Chart.js is the release the Makefile pins (make vendor-js)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_vendored_chartjs_is_the_pinned_release():
    pinned = re.search(r"^CHARTJS_VERSION = (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    header = (ROOT / "static/vendor/chartjs/chart.umd.min.js").read_text(encoding="utf-8")[:200]
    assert f"Chart.js v{pinned}" in header
    assert "MIT" in (ROOT / "static/vendor/chartjs/LICENSE.md").read_text(encoding="utf-8")
