"""The throwaway PostgreSQL runner behind `make test`: skip, require, pass-through."""
import sys

import pytest

from tests.support import pgcluster

ECHO_URL = [sys.executable, "-c", "import os, sys; sys.exit(0 if os.environ['DATABASE_URL'] == 'postgres://given/db' else 9)"]


def test_it_skips_with_a_reason_when_postgres_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(pgcluster, "find_pg_bin", lambda: None)
    monkeypatch.delenv("LEADHUB_REQUIRE_POSTGRES", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    assert pgcluster.main(["--", "false"]) == 0
    assert "skipping the PostgreSQL run" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_it_fails_when_postgres_is_required_and_missing(monkeypatch, capsys, how):
    monkeypatch.setattr(pgcluster, "find_pg_bin", lambda: None)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    args = ["--require", "--", "true"] if how == "flag" else ["--", "true"]
    if how == "env":
        monkeypatch.setenv("LEADHUB_REQUIRE_POSTGRES", "1")
    assert pgcluster.main(args) == 3
    assert "error: PostgreSQL server binaries not found" in capsys.readouterr().err


def test_it_uses_test_database_url_instead_of_a_cluster(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", "postgres://given/db")
    monkeypatch.setattr(pgcluster, "find_pg_bin", lambda: pytest.fail("no cluster should start"))
    assert pgcluster.main(["--", *ECHO_URL]) == 0
