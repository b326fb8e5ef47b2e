import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
django_application = get_asgi_application()

from . import assets  # noqa: E402  (needs the settings)

application = assets.asgi(django_application)
