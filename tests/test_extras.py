"""Installed without extras: single-response scoring works, the rest names the extra to install;
`df.screening` works whichever of screening and pandas is imported first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

# what an install without the extras looks like: these modules cannot be imported
WITHOUT = "import sys\nfor m in {modules}: sys.modules[m] = None\n"


def python(code: str, *, without: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    head = WITHOUT.format(modules=list(without)) if without else ""
    return subprocess.run(
        [sys.executable, "-c", head + code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_single_response_scoring_needs_no_extra_and_imports_no_pandas() -> None:
    done = python(
        "import screening\n"
        "r = screening.score('phq9', {f'phq9_{n}': 1 for n in range(1, 10)})\n"
        "loaded = [m for m in ('pandas', 'numpy') if sys.modules.get(m) is not None]\n"
        "print(r.scales['total'].score, loaded)\n",
        without=("numpy", "pandas"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9 []"
    light = python("import sys, screening\nprint('pandas' in sys.modules)")
    assert light.stdout.strip() == "False"


def test_score_frame_without_numpy_names_the_extra() -> None:
    done = python(
        "import screening\n"
        "try:\n    screening.score_frame\nexcept ModuleNotFoundError as e:\n    print(e)\n",
        without=("numpy", "pandas"),
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'screening[frames]'" in done.stdout


def test_the_cli_without_pandas_or_pyarrow_exits_2_naming_the_extra(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(",".join(f"PHQ_{n}" for n in range(1, 10)) + "\n" + "1," * 8 + "1\n")
    cli = "from screening.cli import main\nsys.exit(main({args!r}))\n"
    table = python(
        cli.format(args=["score", "phq9", str(source), "--prefix", "PHQ_"]),
        without=("numpy", "pandas"),
    )
    assert table.returncode == 2
    assert "pip install 'screening[frames]'" in table.stderr
    assert "Traceback" not in table.stderr
    parquet = python(
        cli.format(
            args=["score", "phq9", str(source), "--prefix", "PHQ_", "-o", str(tmp_path / "o.pq")]
        ),
        without=("pyarrow", "pyarrow.parquet"),
    )
    assert parquet.returncode == 2
    assert "pip install 'screening[parquet]'" in parquet.stderr
    assert not (tmp_path / "o.pq").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_the_accessor_works_when_screening_is_imported_before_pandas() -> None:
    for order in (
        "import screening\nimport pandas as pd\n",
        "import pandas as pd\nimport screening\n",
    ):
        done = python(
            order + "df = pd.DataFrame({f'phq9_{n}': [1] for n in range(1, 10)})\n"
            "print(df.screening.score('phq9')['total'][0])\n"
        )
        assert done.returncode == 0, (order, done.stderr)
        assert done.stdout.strip() == "9"
