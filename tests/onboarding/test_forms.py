import pytest

from apps.catalog import services as catalog
from apps.catalog.models import dns_label_validator
from apps.onboarding.forms import (
    STEP_FORMS,
    BasicsForm,
    DeliveryForm,
    OperationsForm,
    RuntimeForm,
    ServiceNameForm,
    form_for_draft,
)
from tests.onboarding.conftest import BASICS, DELIVERY, OPERATIONS, RUNTIME

pytestmark = pytest.mark.django_db


def basics(user, team, **changes):
    return BasicsForm({**BASICS, "owner": str(team.pk), **changes}, user=user)


def test_basics_names_every_field_it_is_missing(developer):
    form = BasicsForm({}, user=developer)
    assert not form.is_valid()
    assert {"name", "title", "owner", "type", "tier", "lifecycle"} <= set(form.errors)
    assert {"description", "system", "repository_url", "tags"}.isdisjoint(form.errors)


def test_a_name_that_is_not_a_dns_label_is_refused(developer, payments):
    form = basics(developer, payments, name="Bad Name!")
    assert not form.is_valid()
    assert form.errors["name"] == [dns_label_validator.message]


def test_a_name_longer_than_63_characters_is_refused(developer, payments):
    form = basics(developer, payments, name="a" * 64)
    assert not form.is_valid()
    assert "at most 63 characters" in " ".join(form.errors["name"])


def test_a_name_already_in_the_catalog_is_refused(developer, payments):
    catalog.service_create(actor=developer, name="ledger", owner=payments)
    form = basics(developer, payments)
    assert not form.is_valid()
    assert form.errors["name"] == ["A service called 'ledger' already exists."]


def test_a_developer_may_pick_only_their_own_teams(developer, payments, search):
    form = basics(developer, search)
    assert list(form.fields["owner"].queryset) == [payments]
    assert not form.is_valid()
    assert form.errors["owner"] == ["Choose one of your own teams."]


def test_a_developer_in_one_team_finds_it_chosen_already(developer, payments):
    assert BasicsForm(user=developer).initial["owner"] == payments.pk


def test_a_platform_admin_may_pick_any_team(platform_admin, payments, search):
    form = basics(platform_admin, search)
    assert set(form.fields["owner"].queryset) == {payments, search}
    assert form.is_valid(), form.errors


def test_tags_are_split_trimmed_lowercased_and_counted_once(developer, payments, checkout_system):
    form = basics(developer, payments, system=str(checkout_system.pk))
    assert form.is_valid(), form.errors
    assert form.values()["tags"] == ["money", "python"]
    assert form.values()["system"] == checkout_system.pk
    assert form.values()["tier"] == 2


def test_runtime_errors_name_each_field(developer):
    bad = {"container_port": "0", "replicas": "0", "cpu": "lots", "memory": "", "health_path": "hz"}
    form = RuntimeForm({**RUNTIME, **bad}, user=developer)
    assert not form.is_valid()
    assert set(form.errors) == {"container_port", "replicas", "cpu", "memory", "health_path"}
    assert form.errors["health_path"] == ["Start the path with '/', e.g. /healthz."]


def test_runtime_offers_only_the_latest_version_of_each_template(developer, python_web):
    form = RuntimeForm(user=developer)
    assert list(form.fields["template"].queryset) == [python_web]
    assert python_web.version == 2


def test_canary_rows_become_argo_rollouts_steps(developer):
    form = DeliveryForm(DELIVERY, user=developer)
    assert form.is_valid(), form.errors
    assert form.values()["strategy_params"] == {
        "steps": [
            {"set_weight": 10},
            {"pause": {}},
            {"analysis": {"template": "http-smoke"}},
            {"set_weight": 100},
        ]
    }


@pytest.mark.parametrize(
    ("kind", "value"),
    [("set_weight", ""), ("set_weight", "ten"), ("pause", "soon"), ("analysis", "")],
)
def test_a_canary_row_needs_a_number_or_a_template_name(developer, kind, value):
    form = DeliveryForm(
        {**DELIVERY, "canary-0-type": kind, "canary-0-value": value}, user=developer
    )
    assert not form.is_valid()
    assert list(form.rows["canary"].errors[0]) == ["value"]


def test_canary_rows_are_ignored_for_another_strategy(developer):
    data = {**DELIVERY, "strategy": "rolling", "max_surge": "1", "max_unavailable": "0"}
    data = {key: value for key, value in data.items() if not key.startswith("canary-")}
    form = DeliveryForm(data, user=developer)
    assert form.is_valid(), form.errors
    assert form.values()["strategy_params"] == {"max_surge": "1", "max_unavailable": "0"}


def test_rolling_asks_for_its_surge_and_unavailable(developer):
    form = DeliveryForm({**DELIVERY, "strategy": "rolling"}, user=developer)
    assert not form.is_valid()
    assert form.errors["max_surge"] == ["Required for this strategy."]
    assert form.errors["max_unavailable"] == ["Required for this strategy."]


def test_blue_green_keeps_its_promotion_and_delays(developer):
    data = {
        **DELIVERY,
        "strategy": "blue-green",
        "auto_promotion": "on",
        "auto_promotion_seconds": "120",
        "scale_down_delay_seconds": "90000",
    }
    form = DeliveryForm(data, user=developer)
    assert not form.is_valid()
    assert list(form.errors) == ["scale_down_delay_seconds"]

    form = DeliveryForm({**data, "scale_down_delay_seconds": "60"}, user=developer)
    assert form.is_valid(), form.errors
    assert form.values()["strategy_params"] == {
        "auto_promotion": True,
        "auto_promotion_seconds": 120,
        "scale_down_delay_seconds": 60,
    }


def test_blue_green_keeps_the_verification_gates_it_is_given(developer):
    data = {
        **DELIVERY,
        "strategy": "blue-green",
        "auto_promotion_seconds": "0",
        "scale_down_delay_seconds": "30",
        "pre_promotion_analysis": "http-smoke",
        "post_promotion_analysis": "",
    }
    form = DeliveryForm(data, user=developer)
    assert form.is_valid(), form.errors
    params = form.values()["strategy_params"]
    assert params["pre_promotion_analysis"] == "http-smoke"
    assert "post_promotion_analysis" not in params


def test_an_environment_row_is_checked_field_by_field(developer):
    data = {**DELIVERY, "environments-1-name": "Prod!", "environments-1-replicas": "0"}
    form = DeliveryForm(data, user=developer)
    assert not form.is_valid()
    assert form.rows["environments"].errors[0] == {}
    assert set(form.rows["environments"].errors[1]) == {"name", "replicas"}


def test_a_service_needs_at_least_one_environment(developer):
    data = {**DELIVERY, "environments-TOTAL_FORMS": "0", "environments-INITIAL_FORMS": "0"}
    form = DeliveryForm(data, user=developer)
    assert not form.is_valid()
    assert form.rows["environments"].non_form_errors() == ["Keep at least one environment."]


def test_an_empty_namespace_and_replicas_are_left_to_the_catalog(developer):
    form = DeliveryForm(DELIVERY, user=developer)
    assert form.is_valid(), form.errors
    assert form.values()["environments"][0] == {
        "name": "staging",
        "kind": "staging",
        "replicas": 1,
        "namespace": "",
    }


def test_a_link_needs_a_title_and_an_http_url_and_empty_rows_are_left_out(developer):
    form = OperationsForm({**OPERATIONS, "links-0-title": ""}, user=developer)
    assert not form.is_valid()
    assert form.rows["links"].errors[0] == {"title": ["Give the link a title."]}

    form = OperationsForm({**OPERATIONS, "links-0-url": "ftp://files.example.com"}, user=developer)
    assert not form.is_valid()
    assert list(form.rows["links"].errors[0]) == ["url"]

    form = OperationsForm(OPERATIONS, user=developer)
    assert form.is_valid(), form.errors
    assert form.values()["links"] == [
        {"title": "Dashboard", "url": "https://grafana.example.com/d/ledger"}
    ]


def test_the_name_check_says_available_taken_or_why_not(developer, payments):
    catalog.service_create(actor=developer, name="ledger", owner=payments)
    assert ServiceNameForm({"name": "journal"}).availability()[0] == "available"
    assert ServiceNameForm({"name": "ledger"}).availability() == ("taken", "ledger is taken")
    assert ServiceNameForm({"name": "Bad Name!"}).availability() == (
        "invalid",
        dns_label_validator.message,
    )


@pytest.mark.parametrize(
    ("step", "posted"),
    [("basics", BASICS), ("runtime", RUNTIME), ("delivery", DELIVERY), ("operations", OPERATIONS)],
)
def test_saved_values_come_back_as_the_same_form(developer, payments, step, posted):
    form_class = STEP_FORMS[step]
    posted = {**posted, "owner": str(payments.pk)} if step == "basics" else posted
    first = form_class(posted, user=developer)
    assert first.is_valid(), first.errors

    again = form_for_draft(step, user=developer, draft_data={step: first.values()}, bound=True)
    assert again.is_valid(), again.errors
    assert again.values() == first.values()
