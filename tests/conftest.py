from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = Path(__file__).resolve().parent / "definitions"


@pytest.fixture
def phq9_answers() -> dict[str, int]:
    """The contract example: total 15, moderately severe, item 9 endorsed."""
    values = [3, 2, 1, 2, 1, 2, 1, 2, 1]
    return {f"phq9_{n}": v for n, v in enumerate(values, start=1)}
