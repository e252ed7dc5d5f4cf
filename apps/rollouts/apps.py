from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "apps.rollouts"
    label = "rollouts"
    verbose_name = "Rollouts"

    def ready(self) -> None:
        from apps.core.navigation import NavItem, register_nav_item

        # The rollouts panel on service pages, and the rollout links and start button on
        # release pages.
        from apps.rollouts import panels  # noqa: F401

        register_nav_item(NavItem("Rollouts", "rollouts:list", order=50))
        _register_evidence()
        _announce_train_changes()
        _guard_environment_changes()
        _register_metrics()


def _register_metrics() -> None:
    from apps.core.metrics import Gauge, register_gauge
    from apps.rollouts.selectors import rollouts_by_state

    register_gauge(Gauge("runway_rollouts", "Rollouts by state.", ("state",), rollouts_by_state))


def _guard_environment_changes() -> None:
    """An environment's cluster and replicas stay as they are while a rollout there is active."""
    from apps.catalog.environments import register_change_guard
    from apps.rollouts.selectors import environment_change_refusal

    register_change_guard(environment_change_refusal)


def _announce_train_changes() -> None:
    """A train page follows its train live: its state changes are announced as a rollout's."""
    from apps.rollouts import live
    from apps.trains.signals import train_changed

    def announce(sender, train, **kwargs):
        live.announce_train(train.pk)

    train_changed.connect(announce, dispatch_uid="rollouts.announce_train", weak=False)


def _register_evidence() -> None:
    """The rollout record in every release's evidence: page, JSON, API and the period's ZIP."""
    from apps.releases.evidence_sections import EvidenceSection, register_section
    from apps.rollouts.api.serializers import RolloutRecordSerializer
    from apps.rollouts.evidence import rollout_records, rollout_summary

    register_section(
        EvidenceSection(
            key="rollouts",
            title="Rollouts",
            collect=rollout_records,
            template="rollouts/evidence/_rollouts.html",
            serializer=RolloutRecordSerializer,
            many=True,
            summary=rollout_summary,
        )
    )
