"""Schemathesis over /api/schema/: every operation, as a platform admin and as a developer
(each example drawn once and sent as both; the operations split between two tests, so that
two workers share them), against the live test server. Any 5xx, and any answer the schema
does not describe (its status code, its content type or its body), fails the test, naming
the operation and the persona.

Bounded and repeatable: a few derandomized examples per operation, persona and mode (valid
input, and input the schema rules out), without shrinking. SCHEMA_FUZZ_EXAMPLES scales them
for a deeper run by hand. Each (persona, operation) gets a token of its own, so an example that
revokes the token it was sent with (POST /tokens/{id}/revoke/) only turns the rest of that
operation's examples into 401s, which the schema declares."""

import hashlib
import hmac
import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.catalog.models import Cluster, Service
from apps.demo import organisation, releases_in_flight, rollouts_to_dev
from apps.demo.world import CI_ACCOUNT
from apps.insights import services as insight_services
from apps.insights import webhooks
from apps.releases import services as release_services
from apps.releases.models import Release
from apps.rollouts.models import RolloutState
from tests.rollouts.builders import rollout_row

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_SCALE = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "5"))
EXAMPLES = {GenerationMode.POSITIVE: _SCALE, GenerationMode.NEGATIVE: max(_SCALE // 2 + 1, 1)}
PERSONAS = {"platform admin": "admin", "developer": "dev"}  # the demo's users
WEBHOOK_SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


@schemathesis.deserializer("application/x-ndjson")
def _json_lines(ctx, response):
    """The export streams one JSON object per line; the schema describes them as an array."""
    return [json.loads(line) for line in response.content.decode().splitlines() if line]


def _seed() -> None:
    """The demo's teams, users, catalog, policies, windows, freezes and releases, plus what the
    demo leaves to a worker or a vendor: rollouts, a cluster, a check with no link, a webhook
    source with a delivery no service matches, and a bare service (no system or template)."""
    organisation.load()
    releases_in_flight.load()
    rollouts_to_dev.load()
    admin, dev = User.objects.get(username="admin"), User.objects.get(username="dev")
    Cluster.objects.create(name="local", description="The cluster simulator")
    Service.objects.create(name="bare", owner=dev.teams.first())
    ledger = Service.objects.get(name="ledger")
    for state in (RolloutState.RUNNING, RolloutState.SUCCEEDED):
        rollout_row(
            service=ledger,
            environment=ledger.environments.get(name="dev"),
            requester=dev,
            state=state,
            version=f"registry.example.com/payments/ledger:{state}",
        )
    release = Release.objects.filter(requester=dev).first()
    ci = User.objects.get(username=CI_ACCOUNT)  # checks come from CI
    release_services.release_check_report(actor=ci, release=release, name="lint", status="passed")
    source, secret = insight_services.webhook_source_create(
        actor=admin, name="GitHub", kind="github"
    )
    body = (WEBHOOK_SAMPLES / "github__deployment_status__created_success.json").read_bytes()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    insight_services.delivery_receive(
        source_ref=source.slug,
        endpoint=webhooks.DEPLOYMENTS,
        headers={
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": "schema-fuzz",
            "X-Hub-Signature-256": f"sha256={signature}",
        },
        body=body,
    )


def _token(username: str) -> str:
    user = User.objects.get(username=username)
    return account_services.api_token_create(actor=user, name="schema fuzz")[1]


def _fuzz(operation, *, mode, examples, base_url, headers_of, record) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case):
        # Each example goes to the server as each persona: drawing it is half the work.
        # A new connection per request: keep-alive to Django's test server costs ~40 ms a
        # request here (a delayed ACK), which would triple the test's time.
        for persona, headers in headers_of.items():
            try:
                case.call_and_validate(
                    base_url=base_url, headers=headers, checks=CHECKS, timeout=10
                )
            except FailureGroup as group:
                record(persona, group)
            else:
                record(persona, None)

    fuzz()


SHARDS = 2  # two tests, so that two pytest workers share the operations


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_as_the_schema_says(shard, live_server, transactional_db):
    _seed()
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        headers={"Authorization": f"Bearer {_token('admin')}"},
        # Generating the schema takes seconds, more on a busy machine than schemathesis's 10.
        timeout=60,
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    mine = operations[shard::SHARDS]
    requests_made = 0
    failures: dict[str, list[FailureGroup]] = {}
    kinds: Counter = Counter()
    started = time.monotonic()

    for operation in mine:
        headers_of = {
            persona: {"Authorization": f"Bearer {_token(username)}"}
            for persona, username in PERSONAS.items()
        }

        def record(persona, group, operation=operation):
            nonlocal requests_made
            requests_made += 1
            if group is not None:
                failures.setdefault(f"{persona}: {operation.label}", []).append(group)
                for failure in group.exceptions:
                    kinds["5xx" if isinstance(failure, ServerError) else "violations"] += 1

        for mode, examples in EXAMPLES.items():
            _fuzz(
                operation,
                mode=mode,
                examples=examples,
                base_url=live_server.url,
                headers_of=headers_of,
                record=record,
            )

    print(
        f"\nschema fuzz, shard {shard + 1} of {SHARDS}: {len(mine)} operations as "
        f"{len(PERSONAS)} personas, {requests_made} requests, {kinds['5xx']} server errors, "
        f"{kinds['violations']} schema violations, in {time.monotonic() - started:.0f} s"
    )
    declared = [m for path in schema.raw_schema["paths"].values() for m in path]
    assert len(operations) == len(declared)  # every operation, none skipped
    assert len(mine) >= len(operations) // SHARDS
    assert not failures, "\n\n".join(
        f"== {label} ({len(groups)} failing requests; the first:)\n{groups[0]}"
        for label, groups in failures.items()
    )
