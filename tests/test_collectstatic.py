"""collectstatic with the production storage (hashed, compressed, every reference
inside CSS and JS resolved) succeeds: a vendored file whose source map is missing
would stop a deploy (docs/deployment.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_collectstatic_with_the_production_storage_succeeds(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": str(tmp_path), "DEBUG": "0",
           "STATIC_ROOT": str(tmp_path / "static"), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "vendor/chartjs/chart.umd.min.js" in manifest and "leadhub/reports.js" in manifest
