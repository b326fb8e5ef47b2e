from django.urls import re_path

from .app import async_view

urlpatterns = [re_path(r"^(?P<rest>.*)$", async_view)]
