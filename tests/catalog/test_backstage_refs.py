import pytest

from apps.catalog.backstage.refs import (
    EntityRef,
    RefError,
    dns_label_problem,
    parse_ref,
    runway_name,
)


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("component:default/checkout", "dependsOn", ("component", "default", "checkout")),
        ("checkout", "dependsOn", ("component", "default", "checkout")),
        (
            "resource:devex/native-apps-mongodb",
            "dependsOn",
            ("resource", "devex", "native-apps-mongodb"),
        ),
        ("devex/one-platform", "system", ("system", "devex", "one-platform")),
        ("CNCF", "owner", ("group", "default", "CNCF")),
        ("Group:RedHat/One-Platform-Devs", "owner", ("group", "redhat", "One-Platform-Devs")),
        ("user:jdoe", "owner", ("user", "default", "jdoe")),
        ("petstore", "providesApis", ("api", "default", "petstore")),
        ("petstore", "consumesApis", ("api", "default", "petstore")),
        ("  spaced  ", "owner", ("group", "default", "spaced")),
    ],
)
def test_a_reference_gets_the_kind_its_field_implies_and_the_default_namespace(
    value, field, expected
):
    ref = parse_ref(value, field=field)
    assert (ref.kind, ref.namespace, ref.name) == expected


def test_a_slash_before_the_colon_makes_the_colon_part_of_the_name():
    ref = parse_ref("ns/na:me", field="dependsOn")
    assert (ref.kind, ref.namespace, ref.name) == ("component", "ns", "na:me")


def test_an_explicit_default_kind_wins_over_the_field():
    assert parse_ref("x", field="owner", default_kind="user").kind == "user"


@pytest.mark.parametrize(
    "value", ["", "   ", ":name", "kind:", "kind:/name", "kind:ns/", "a/b/c", None, 42, ["x"]]
)
def test_malformed_references_are_refused(value):
    with pytest.raises(RefError):
        parse_ref(value, field="owner")


def test_a_reference_without_a_kind_in_a_field_that_implies_none_is_refused():
    with pytest.raises(RefError, match="does not say its kind"):
        parse_ref("thing", field="somethingElse")


def test_references_compare_by_kind_and_runway_name_whatever_the_case():
    ours = parse_ref("Component:Default/My_Service", field="dependsOn")
    theirs = parse_ref("my-service", field="dependsOn")
    assert ours.key == theirs.key == ("component", "my-service")
    assert str(ours) == "component:default/My_Service"
    assert ours == EntityRef("component", "default", "My_Service")


@pytest.mark.parametrize(
    ("backstage", "runway"),
    [
        ("Checkout", "checkout"),
        ("payment_gateway", "payment-gateway"),
        ("api.v2", "api-v2"),
        ("backstage-existing", "backstage-existing"),
    ],
)
def test_backstage_names_become_runway_names(backstage, runway):
    assert runway_name(backstage) == runway
    assert dns_label_problem(backstage) is None


@pytest.mark.parametrize(
    ("backstage", "reason"),
    [
        ("x" * 64, "longer than 63"),
        ("-leading", "cannot become a Runway name"),
        ("trailing_", "cannot become a Runway name"),
        ("has space", "cannot become a Runway name"),
        ("ünïcode", "cannot become a Runway name"),
    ],
)
def test_names_that_cannot_be_dns_labels_say_why(backstage, reason):
    assert reason in dns_label_problem(backstage)
