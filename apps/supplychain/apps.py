from django.apps import AppConfig


class SupplychainConfig(AppConfig):
    """Artifacts, the evidence CI uploads for them (signatures, attestations) and the trust
    policies Runway verifies that evidence against, before a release may roll out."""

    name = "apps.supplychain"
    label = "supplychain"
    verbose_name = "Supply chain"
