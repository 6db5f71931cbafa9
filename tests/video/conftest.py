"""Video tests: tiny real videos made once per session and copied under the names a test
needs; files are read in threads (one test covers the process pool) and batches are small."""

from __future__ import annotations

import pytest

from tests.fixtures.video import VideoSeeds


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> VideoSeeds:
    return VideoSeeds(tmp_path_factory.mktemp("video-seeds"))


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"scan_video_processes": 0, "scan_batch_size": 4}
