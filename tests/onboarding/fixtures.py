"""The golden path as an admin publishes it, shared by the onboarding tests and the browser's
developer journey."""

import pytest

from apps.catalog import services as catalog
from apps.catalog.models import GoldenPathTemplate
from apps.demo.world import VERIFIED_CANARY  # the demo's golden path, published as an admin does

__all__ = ["VERIFIED_CANARY"]


@pytest.fixture
def golden_path(platform_admin) -> GoldenPathTemplate:
    """python-web: v1 a plain rolling update, v2 the golden path (a verified canary)."""
    catalog.template_create(actor=platform_admin, name="python-web", title="Python web")
    return catalog.template_create(
        actor=platform_admin,
        name="python-web",
        title="Python web",
        strategy="canary",
        strategy_params=VERIFIED_CANARY,
        is_default=True,
    )
