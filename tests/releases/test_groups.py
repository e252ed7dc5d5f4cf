"""The registry through which a later app shows several releases as one item
(apps/releases/groups.py): the releases app asks it, knowing no grouping by name."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.releases import groups
from apps.releases.groups import Grouping, GroupMember, ReleaseGroup
from apps.releases.models import Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair_grouping(monkeypatch, make_release):
    """Only a grouping that puts two releases of web together, in place of those registered."""
    first, second = make_release(title="one"), make_release(title="two")
    now = timezone.now()
    group = ReleaseGroup(
        key="pair-1",
        kind="Pair",
        name="web twice",
        url="/pairs/1/",
        environment_name="prod",
        state="draft",
        state_display="Draft",
        planned_start=now,
        planned_end=now + timedelta(hours=1),
        updated_at=now,
        members=(
            GroupMember(first.pk, "web", "registry/web:1.0.0", "draft"),
            GroupMember(second.pk, "web", "registry/acme/web@sha256:" + "a" * 64, "draft"),
        ),
    )
    ids = {first.pk, second.pk}
    grouping = Grouping(
        "pairs",
        member_ids=lambda: Release.objects.filter(pk__in=ids).values("pk"),
        groups_of=lambda release_ids: {pk: group for pk in release_ids if pk in ids},
        inbox_items=lambda user, policies: [],
    )
    monkeypatch.setattr(groups, "_groupings", {"pairs": grouping})
    return first, second, group


def test_grouped_releases_are_filtered_out_and_found_in_their_group(pair_grouping, make_release):
    first, second, group = pair_grouping
    alone = make_release(title="alone")
    assert set(Release.objects.filter(groups.ungrouped())) == {alone}
    found = groups.groups_of([first, second, alone])
    assert found == {first.pk: group, second.pk: group}
    assert groups.groups_of([]) == {}


def test_a_group_lists_its_members_as_service_at_tag_or_short_reference(pair_grouping):
    _, _, group = pair_grouping
    assert group.member_count == 2
    assert group.summary == "web@1.0.0, web@…/web@sha256:aaaaaaaaaaaa"
