"""Demo trains: payments' three services to staging, approved, and search's three to
production, submitted and waiting for its second approval."""

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.demo.releases_in_flight import next_allowed
from apps.releases.models import ChangeWindow
from apps.trains import services
from apps.trains.models import Train


def _members(names: list[str], version: str) -> list[dict]:
    members = []
    for name in names:
        owner = Service.objects.get(name=name).owner.slug
        members.append(
            {"service": name, "version": f"registry.example.com/{owner}/{name}:{version}"}
        )
    return members


def _requested(*, actor: User, **arguments) -> Train:
    """Created and submitted as train_request does, inside seed_demo's own transaction (which
    train_request, durable, refuses to run in)."""
    return services.train_submit(actor=actor, train=services.train_create(actor=actor, **arguments))


def load() -> list[str]:
    if Train.objects.exists():
        return []
    dev, rm = User.objects.get(username="dev"), User.objects.get(username="rm")
    now = timezone.now()
    start = now + timedelta(days=1)
    # No policy covers staging: the train is approved on submission, its members with it.
    staging = _requested(
        actor=dev,
        name="Payments spring release",
        environment_name="staging",
        planned_start=start,
        planned_end=start + timedelta(hours=2),
        members=_members(["payments-api", "ledger", "fraud-check"], "3.0.0"),
    )
    # Production asks two release managers: one has approved.
    search = Service.objects.get(name="search-api")
    office_hours = ChangeWindow.objects.get(name="Production office hours")
    start = next_allowed(
        search, search.environments.get(name="prod"), office_hours, now + timedelta(days=2)
    )
    production = _requested(
        actor=dev,
        name="Search stack 2.4",
        environment_name="prod",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        members=_members(["search-api", "search-indexer", "recommendations"], "2.4.0"),
    )
    services.train_approve(actor=rm, train=production, comment="Indexer first, as planned.")
    return [
        f"train #{staging.pk} {staging.get_state_display().lower()}",
        f"train #{production.pk} awaiting approval",
    ]
