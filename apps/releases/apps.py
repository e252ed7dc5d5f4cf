from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"
    label = "releases"
    verbose_name = "Releases and approvals"

    def ready(self) -> None:
        from apps.releases import panels  # noqa: F401  (the releases panel on service pages)
