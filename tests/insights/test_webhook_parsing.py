"""The pure parts of webhook handling: signatures, repository spellings, timestamps, JSON."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.insights.models import SourceKind
from apps.insights.webhooks import gitlab, load_json
from apps.insights.webhooks.errors import BadPayload, Unauthorised
from apps.insights.webhooks.repositories import normalise_repository
from apps.insights.webhooks.signatures import verify
from apps.insights.webhooks.timestamps import parse_time, seconds_between
from tests.insights.conftest import sample, sign

# --- Signatures -------------------------------------------------------------------------------


def test_githubs_published_signature_vector_verifies():
    # docs.github.com, "Validating webhook deliveries": this secret and body give this signature.
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert f"sha256={sign(secret, body)}" == expected
    verify(SourceKind.GITHUB, [secret], {"x-hub-signature-256": expected}, body)


@pytest.mark.parametrize(
    "header",
    [
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",  # one digit off
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=",
    ],
)
def test_a_wrong_github_signature_is_refused(header):
    with pytest.raises(Unauthorised):
        verify(
            SourceKind.GITHUB,
            ["It's a Secret to Everybody"],
            {"x-hub-signature-256": header},
            b"Hello, World!",
        )


def test_a_missing_github_signature_says_which_header():
    with pytest.raises(Unauthorised, match="X-Hub-Signature-256"):
        verify(SourceKind.GITHUB, ["secret"], {}, b"{}")


def test_the_previous_secret_is_accepted_beside_the_current_one():
    body = b"{}"
    verify(
        SourceKind.GITHUB,
        ["new", "old"],
        {"x-hub-signature-256": f"sha256={sign('old', body)}"},
        body,
    )


def test_pagerduty_accepts_any_of_several_signatures():
    body = b'{"event": {}}'
    header = f"v1={'0' * 64}, v1={sign('pd-secret', body)}"
    verify(SourceKind.PAGERDUTY, ["pd-secret"], {"x-pagerduty-signature": header}, body)
    with pytest.raises(Unauthorised):
        verify(
            SourceKind.PAGERDUTY, ["pd-secret"], {"x-pagerduty-signature": f"v1={'0' * 64}"}, body
        )


def test_gitlab_compares_its_token():
    verify(SourceKind.GITLAB, ["tok-123"], {"x-gitlab-token": "tok-123"}, b"{}")
    with pytest.raises(Unauthorised):
        verify(SourceKind.GITLAB, ["tok-123"], {"x-gitlab-token": "tok-124"}, b"{}")


def test_generic_takes_an_hmac_or_a_bearer_secret():
    body = b'{"a": 1}'
    verify(SourceKind.GENERIC, ["s"], {"x-runway-signature-256": f"sha256={sign('s', body)}"}, body)
    verify(SourceKind.GENERIC, ["s"], {"authorization": "Bearer s"}, body)
    with pytest.raises(Unauthorised):
        verify(SourceKind.GENERIC, ["s"], {"authorization": "Bearer t"}, body)
    with pytest.raises(Unauthorised, match="X-Runway-Signature-256"):
        verify(SourceKind.GENERIC, ["s"], {}, body)


# --- Repositories -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Codertocat/Hello-World",
        "https://github.com/codertocat/hello-world.git",
        "https://github.com/codertocat/hello-world/",
        "git@github.com:Codertocat/Hello-World.git",
        "ssh://git@github.com:22/Codertocat/Hello-World.git",
        "git://github.com/Codertocat/Hello-World.git",
        "  HTTPS://user@GitHub.com/Codertocat/Hello-World.git/  ",
    ],
)
def test_every_spelling_of_a_repository_is_the_same_repository(url):
    assert normalise_repository(url) == "github.com/codertocat/hello-world"


def test_gitlabs_http_and_ssh_urls_on_different_ports_are_the_same_project():
    http = "http://10.126.0.2:3000/root/test-deployment-webhooks.git"
    ssh = "ssh://vlad@10.126.0.2:2222/root/test-deployment-webhooks.git"
    assert normalise_repository(http) == normalise_repository(ssh)
    assert normalise_repository(ssh) == "10.126.0.2/root/test-deployment-webhooks"


@pytest.mark.parametrize("url", ["", None, "https://github.com", "not a url"])
def test_something_that_is_no_repository_normalises_to_nothing(url):
    assert normalise_repository(url) == ""


# --- Timestamps -------------------------------------------------------------------------------


def test_gitlabs_timestamps_are_read_with_their_offset():
    assert parse_time("2021-04-28 21:50:00 +0200", "t") == datetime(2021, 4, 28, 19, 50, tzinfo=UTC)
    assert parse_time("2016-08-12 15:23:28 UTC", "t") == datetime(
        2016, 8, 12, 15, 23, 28, tzinfo=UTC
    )


def test_a_time_without_a_zone_is_refused_naming_the_field():
    with pytest.raises(BadPayload) as refused:
        parse_time("2025-01-10T09:00:00", "started_at")
    assert "no time zone" in refused.value.detail["started_at"][0]


def test_elapsed_seconds_are_real_seconds_across_a_dst_change():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # Clocks went forward on 30 March 2025: noon to noon is 23 real hours.
    earlier, later = (
        datetime(2025, 3, 29, 12, tzinfo=berlin),
        datetime(2025, 3, 30, 12, tzinfo=berlin),
    )
    assert later - earlier == timedelta(days=1)  # Python's same-zone arithmetic: wall clocks
    assert seconds_between(earlier, later) == 23 * 3600
    assert seconds_between(earlier, later.astimezone(timezone(timedelta(hours=2)))) == 23 * 3600


# --- JSON -------------------------------------------------------------------------------------


def test_malformed_json_names_the_line_and_column():
    body = b'{"action": "created",\n "deployment": }'
    with pytest.raises(BadPayload) as refused:
        load_json(body)
    # Line 2 is ` "deployment": }`: the value is missing where the `}` stands, column 16.
    assert refused.value.detail == "Malformed JSON: Expecting value at line 2, column 16."
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "empty"), (b"[1, 2]", "JSON object"), (b"\xff\xfe{}", "UTF-8")],
)
def test_a_body_that_is_no_json_object_is_refused(body, message):
    with pytest.raises(BadPayload, match=message):
        load_json(body)


def test_githubs_form_encoded_delivery_is_unwrapped():
    assert load_json(
        b"payload=%7B%22zen%22%3A+%22x%22%7D", "application/x-www-form-urlencoded"
    ) == {"zen": "x"}


def test_the_gitlab_sample_gives_its_full_sha_and_utc_finish():
    event = gitlab.interpret(
        "Deployment Hook", json.loads(sample("gitlab__deployment__success.json"))
    )
    assert event.version == "279484c09fbe69ededfced8c1bb6e6d24616b468"  # from commit_url
    assert event.finished_at == datetime(2021, 4, 28, 19, 50, tzinfo=UTC)
    assert event.started_at is None  # GitLab sends none
    assert event.production_hint is False  # environment_tier: staging
