"""ASGI entry point: uvicorn serves Runway so that streaming views (live rollout status) work."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_asgi_application()
