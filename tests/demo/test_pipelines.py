"""The demo's releases to dev come from standard pipelines: the services say which template
version they run, and the KPI has something to show."""

import pytest
from django.db import transaction

from apps.catalog.models import Service
from apps.demo import organisation, rollouts_to_dev
from apps.insights.kpis import platform_kpis

pytestmark = pytest.mark.django_db


def test_the_demo_s_pipelines_report_their_templates():
    with transaction.atomic():  # as seed_demo loads it
        organisation.load()
        rollouts_to_dev.load()

    reported = {
        service.name: f"{service.pipeline_template}@{service.pipeline_template_version}"
        for service in Service.objects.exclude(pipeline_template="")
    }
    share = platform_kpis(scope="team", name="payments").standard_pipeline_share

    assert reported == rollouts_to_dev.PIPELINE_TEMPLATES
    # payments-api and ledger run their template's newest, fraud-check an older one.
    assert (share.latest, share.outdated) == (2, 1)
