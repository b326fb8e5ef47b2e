"""The "your sessions" page: ``path("account/sessions/", include("django_expsession.urls"))``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "expsession"

urlpatterns = [
    path("", views.SessionsView.as_view(), name="sessions"),
    path("end/", views.EndSessionView.as_view(), name="end_session"),
    path("end-others/", views.EndOtherSessionsView.as_view(), name="end_other_sessions"),
]
