"""The rendered overlays, shared by the deploy tests (rendered once per session)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.kustomize import DEPLOY, OVERLAYS, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(DEPLOY / "overlays" / name) for name in OVERLAYS}
