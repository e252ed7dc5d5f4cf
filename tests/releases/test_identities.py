"""Separation of duties knows a person by every name they commit under: `Name <email>`, a bare
e-mail or name, any case, GitHub's noreply addresses, and the aliases on their profile. Authors
nobody is known by are named on the release, in the evidence, and block it where a policy says
so."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.identities import author_keys, unknown_authors
from apps.accounts.models import Alias, Role
from apps.audit.models import AuditEvent
from apps.releases import services
from apps.releases.evidence import release_evidence
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def riley(db):
    """A release manager who signs commits as Riley Release-Manager <rm@runway.example>."""
    return UserFactory(
        username="rm",
        email="rm@runway.example",
        first_name="Riley",
        last_name="Release-Manager",
        roles=[Role.RELEASE_MANAGER],
    )


def with_commit(make_release, developer, author: str):
    release = make_release(
        commits=[
            {
                "sha": "c0ffee1234",
                "author": author,
                "message": "fix",
                "committed_at": timezone.now() - timedelta(days=1),
            }
        ]
    )
    return services.release_submit(actor=developer, release=release)


@pytest.mark.parametrize(
    "author",
    [
        "Riley Release-Manager <rm@runway.example>",
        "rm@runway.example",
        "RM@Runway.Example",
        "Riley Release-Manager",
        "riley   release-manager",
        "rm",
        "8812+rm@users.noreply.github.com",
        "rm@users.noreply.github.com",
    ],
)
def test_an_approver_who_wrote_a_commit_under_any_of_their_names_may_not_approve(
    make_release, developer, prod_policy, riley, author
):
    release = with_commit(make_release, developer, author)
    with pytest.raises(PermissionDenied, match="You wrote commit c0ffee1234"):
        services.release_approve(actor=riley, release=release)
    assert not release.approvals.exists()


@pytest.mark.parametrize(
    ("kind", "alias", "author"),
    [
        ("email", "Riley.Home@Example.org", "Riley <riley.home@example.org>"),
        ("login", "rileyr", "rileyr"),
        ("email", "4411+rileyr@users.noreply.github.com", "rileyr"),
    ],
)
def test_an_alias_on_the_profile_counts_as_the_approver(
    make_release, developer, prod_policy, riley, kind, alias, author
):
    account_services.alias_add(actor=riley, kind=kind, value=alias)
    release = with_commit(make_release, developer, author)
    with pytest.raises(PermissionDenied, match="You wrote commit"):
        services.release_approve(actor=riley, release=release)


def test_someone_elses_commit_is_approved(make_release, developer, prod_policy, riley):
    release = with_commit(make_release, developer, "Sam Search <sam@runway.example>")
    assert services.release_approve(actor=riley, release=release).approver == riley


def test_author_strings_are_read_as_people_write_them():
    assert author_keys("Dana Developer <Dev@Runway.Example>") == {
        "email:dev@runway.example",
        "name:dana developer",
    }
    assert author_keys("dana") == {"login:dana", "name:dana"}
    assert author_keys("1+dana@users.noreply.github.com") == {"login:dana"}
    assert author_keys("Dana Developer") == {"name:dana developer"}


def test_authors_nobody_is_known_by_are_listed(riley, developer):
    inactive = UserFactory(username="gone", email="gone@runway.example", is_active=False)
    account_services.alias_add(actor=riley, kind="login", value="rileyr")
    authors = [
        "Riley Release-Manager <elsewhere@example.org>",  # known by name
        "rileyr",
        developer.email.upper(),
        "Ghost <ghost@example.org>",
        inactive.email,
    ]
    assert unknown_authors(authors) == ["Ghost <ghost@example.org>", "gone@runway.example"]


def test_an_unknown_author_is_named_on_the_release_and_in_the_evidence(
    client_as, make_release, developer, riley
):
    release = with_commit(make_release, developer, "Ghost <ghost@example.org>")
    page = client_as(developer).get(f"/releases/{release.pk}/").content.decode()
    assert "Unknown author: Ghost &lt;ghost@example.org&gt;" in page
    gates = {gate["gate"]: gate for gate in release_evidence(release)["gates_now"]}
    assert gates["Commit authors"]["passed"] is False
    assert gates["Commit authors"]["detail"] == "Unknown author: Ghost <ghost@example.org>"


def test_a_policy_requiring_known_authors_holds_the_release(
    make_release, developer, prod_policy, riley, second_release_manager
):
    prod_policy.require_known_authors = True
    prod_policy.save()
    release = with_commit(make_release, developer, "Ghost <ghost@example.org>")
    # Approving with that gate failing asks for a confirmation that names it ...
    with pytest.raises(ValidationError) as refused:
        services.release_approve(actor=riley, release=release)
    assert "Commit authors: Unknown author: Ghost" in refused.value.message_dict["confirm_risks"][0]
    assert not release.approvals.exists()
    # ... and the approvals made with it record what was confirmed and the gates as they were.
    for approver in (riley, second_release_manager):
        services.release_approve(actor=approver, release=release, confirm_risks=True)
    approval = release.approvals.get(approver=riley)
    assert approval.risks_confirmed == ["Commit authors"]
    assert {"gate": "Commit authors", "passed": False}.items() <= next(
        gate for gate in approval.gates if gate["gate"] == "Commit authors"
    ).items()
    started, release = services.release_begin(
        release=release, now=release.planned_start + timedelta(minutes=1)
    )
    assert not started
    assert "Commit authors: Unknown author: Ghost <ghost@example.org>" in release.hold_reason


def test_aliases_are_one_persons_and_their_changes_are_audited(riley, developer, client_as):
    alias = account_services.alias_add(actor=riley, kind="email", value=" Riley@Home.example ")
    assert alias.value == "riley@home.example"
    with pytest.raises(ValidationError, match="Someone already lists this"):
        account_services.alias_add(actor=developer, kind="email", value="riley@home.example")
    with pytest.raises(ValidationError) as error:
        account_services.alias_add(actor=developer, kind="login", value="bad login!")
    assert "value" in error.value.message_dict
    # Another person's alias is not theirs to remove: not found.
    assert client_as(developer).post(f"/profile/aliases/{alias.pk}/remove/").status_code == 404
    account_services.alias_remove(actor=riley, alias=alias)
    assert not Alias.objects.exists()
    audited = AuditEvent.objects.filter(action__startswith="alias.").order_by("id")
    assert list(audited.values_list("action", flat=True)) == ["alias.add", "alias.remove"]


def test_a_person_lists_an_alias_from_their_profile(client_as, riley):
    client = client_as(riley)
    response = client.post("/profile/aliases/", {"kind": "login", "value": "rileyr"})
    assert response.status_code == 302
    assert "rileyr" in client.get("/profile/").content.decode()
    refused = client.post(
        "/profile/aliases/", {"kind": "email", "value": "not-an-email"}, follow=True
    )
    assert "Enter an e-mail address." in refused.content.decode()
    assert list(riley.aliases.values_list("value", flat=True)) == ["rileyr"]
