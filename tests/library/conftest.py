"""Library tests: tags are read in threads (the default; `test_scanner_processes.py` covers the
process pool) and batches are small, so a few dozen files exercise batching and resuming."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"scan_processes": 0, "scan_batch_size": 50}
