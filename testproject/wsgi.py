import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
django_application = get_wsgi_application()

from . import assets  # noqa: E402  (needs the settings)

application = assets.wsgi(django_application)
