"""The built wheel, installed into a fresh virtual environment, works on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

BUILTINS = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))

PROBE = """
import json, sys
import screening
answers = {f"phq9_{n}": v for n, v in enumerate([3, 2, 1, 2, 1, 2, 1, 2, 1], start=1)}
result = screening.score("phq9", answers)
print(json.dumps({
    "file": screening.__file__,
    "prefix": sys.prefix,
    "instruments": screening.list_instruments(),
    "total": result.scales["total"].score,
    "band": result.scales["total"].band,
    "flags": result.flag_ids,
    "valid": result.valid,
}))
"""


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=ROOT,
    )
    (built,) = outdir.glob("screening-*.whl")
    return built


def test_wheel_holds_the_package_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "screening/py.typed" in names
    assert "screening/__init__.py" in names
    shipped = sorted(
        Path(n).stem
        for n in names
        if n.startswith("screening/instruments/") and n.endswith(".yaml")
    )
    assert shipped == BUILTINS
    assert len(shipped) >= 13
    assert not any(n.startswith(("tests/", "docs/")) for n in names)


def test_installed_wheel_works_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)])

    # Dependencies (pydantic, ruamel.yaml) come from this environment's site-packages; the
    # editable install of screening there is a .pth file, which PYTHONPATH does not process.
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    done = _run([str(python), "-c", PROBE], cwd=tmp_path, env=env)
    report = json.loads(done.stdout)

    assert Path(report["file"]).resolve().is_relative_to(venv.resolve())
    assert Path(report["prefix"]).resolve() == venv.resolve()
    assert report["instruments"] == BUILTINS
    assert len(report["instruments"]) >= 13
    assert (report["total"], report["band"]) == (15, "moderately severe")
    assert report["flags"] == ["suicidal_ideation"]
    assert report["valid"] is True
