import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
