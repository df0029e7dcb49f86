"""Under CI a test extra that is missing fails the tests that need it; elsewhere they skip (conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CASES = '''
import pytest

def test_at_run_time():
    pytest.importorskip("rca_no_such_module_at_run_time")
'''
MODULE_LEVEL = '''
import pytest

pytest.importorskip("rca_no_such_module_at_collection")

def test_never_reached():
    pass
'''


def _run(folder: Path, name: str, ci: str) -> tuple[int, str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", name],
                         cwd=folder, env={**os.environ, "CI": ci}, capture_output=True, text=True, timeout=120)
    return run.returncode, run.stdout + run.stderr


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_missing_extra_fails_under_ci_and_skips_elsewhere(tmp_path: Path, ci: str) -> None:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_run_time.py").write_text(CASES)
    (tmp_path / "test_module_level.py").write_text(MODULE_LEVEL)
    run_time, run_time_out = _run(tmp_path, "test_run_time.py", ci)
    collected, collected_out = _run(tmp_path, "test_module_level.py", ci)
    if not ci:
        # 5: pytest collected no test, the module having skipped itself
        assert (run_time, collected) == (0, 5), run_time_out + collected_out
        assert "1 skipped" in run_time_out and "1 skipped" in collected_out
        return
    assert run_time == 1 and "1 failed" in run_time_out, run_time_out
    assert "rca_no_such_module_at_run_time" in run_time_out, run_time_out
    assert collected != 0 and "1 error" in collected_out, collected_out  # the module is never collected
    assert "rca_no_such_module_at_collection" in collected_out, collected_out
    for out in (run_time_out, collected_out):
        assert "CI is set, so the test extras must be here" in out, out
