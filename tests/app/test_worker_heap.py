"""A served process keeps what it holds once its application is built out of the garbage collector's
full collections (``app.workers.freeze_startup_heap``): checked through the entry points that
`longtrust serve` and `longtrust hub serve` give uvicorn, each in a process of its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.processes import ROOT, cli, environment

_PROBE = (
    "import gc\n"
    "from {module} import {factory}\n"
    "{factory}()\n"
    "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
)


@pytest.mark.parametrize(
    ("module", "factory"), [("app.main", "create_app_from_env"), ("app.hub", "create_hub_app_from_env")]
)
def test_a_served_application_leaves_what_it_holds_at_start_to_reference_counting(tmp_path, module, factory):
    env = environment(tmp_path / "data", None)
    (tmp_path / "data").mkdir()
    if module == "app.main":
        cli("init", env=env)
    probe = _PROBE.format(module=module, factory=factory)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    frozen, tracked = (int(n) for n in done.stdout.split()[-2:])
    # Without the freeze every object the application holds is tracked and none is frozen.
    assert frozen > 50_000, (frozen, tracked)
    assert tracked < frozen // 100, (frozen, tracked)
