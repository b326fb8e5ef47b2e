from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

# The settings the snapshot or the built store depend on.
_WATCHED = frozenset({"EXPSESSION", "CACHES", "DATABASES", "SECRET_KEY", "SECRET_KEY_FALLBACKS"})


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _WATCHED:
        from . import conf
        from .stores import reset_store

        conf.reset()
        reset_store()


class ExpSessionConfig(AppConfig):
    name = "django_expsession"
    verbose_name = "Sessions (express-session)"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  registers the checks

        setting_changed.connect(_settings_changed, dispatch_uid="django_expsession.settings")
        from django.apps import apps

        if apps.is_installed("django.contrib.admin"):
            # django.contrib.admin's ready() has loaded every admin module
            # when it comes before this app in INSTALLED_APPS, as is usual.
            from .adminusers import attach

            attach()
