"""A command run against a data folder that was never initialised says to run `longtrust init` and
leaves no empty database behind."""

from __future__ import annotations

import pytest

from tests.e2e.processes import environment, run_cli

pytestmark = pytest.mark.slow


def test_an_uninitialised_folder_points_to_init(tmp_path):
    env = environment(tmp_path / "empty", None)
    result = run_cli("token", "list", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `longtrust init`" in lines[0], result.stderr
    assert not (tmp_path / "empty" / "longtrust.db").exists()
