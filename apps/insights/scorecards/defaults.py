"""Every rule in code has its row in the database."""


def scorecard_rules_ensure(sender, *, using="default", apps=None, **kwargs) -> None:
    """post_migrate, after every migrate and every flush (which sends it too): each rule in
    code gets its row, at its default level until an admin changes it, so a rule added in a
    release appears without a data migration of its own and an emptied database is whole."""
    from django.apps import apps as installed

    from apps.insights.scorecards.rules import RULES

    rule = (apps or installed).get_model("insights", "ScorecardRule")
    rule.objects.using(using).bulk_create(
        [rule(key=r.key, level=r.default_level) for r in RULES], ignore_conflicts=True
    )
