"""The demo's URLs, plus one read-only view with which the load run reads its counters back."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from testproject.urls import urlpatterns as demo


def peek(request: HttpRequest) -> JsonResponse:
    """The session's page-view counters, unchanged (the demo's pages count this visit)."""
    return JsonResponse({"views": request.session.get("views", {})})


urlpatterns = [path("load/peek", peek), *demo]
