from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`. It sits above every other app and is imported by none."""

    name = "apps.demo"
    label = "demo"
