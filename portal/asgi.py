"""ASGI entry point: uvicorn serves Runway so that streaming views (live rollout status) work."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from portal.body_limit import BodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = BodyLimit(get_asgi_application(), max_bytes=settings.MAX_REQUEST_BYTES)
