"""Fixtures shared by every vendor's tests."""
import pytest

from tests.support.processes import manage_runner


@pytest.fixture
def cli(tmp_path):
    """manage.py in separate processes on one file database (see tests.support.processes.manage_runner)."""
    return manage_runner(tmp_path)
