"""The demo's URLs plus the integration tests' own views under /t/."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import probes, views

urlpatterns = [
    path("t/whoami/", views.whoami),
    path("t/async/whoami/", views.awhoami),
    path("t/async/login/", views.alogin_view),
    path("t/async/logout/", views.alogout_view),
    path("t/messages/add/", views.add_messages),
    path("t/messages/show/", views.show_messages),
    path("t/form/", views.csrf_form),
    path("t/plain/", views.plain),
    path("t/reads/", views.reads),
    path("t/remember/<str:name>/", views.remember),
    path("t/session-id/", views.session_id),
    path("t/password/", auth_views.PasswordChangeView.as_view(success_url="/t/whoami/")),
    path(
        "t/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url="/t/reset/done/"),
        name="password_reset_confirm",
    ),
    path("t/probe/async/", probes.async_view),
    path("t/probe/sync/", probes.sync_view),
    path("t/probe/log/", probes.log_view),
    path("", include("testproject.urls")),
]
