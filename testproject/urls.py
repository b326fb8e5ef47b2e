from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("expiry/", views.expiry, name="expiry"),
    path("stored/", views.stored, name="stored"),
    re_path(r"^(?P<path>.*)$", views.counter, name="counter"),
]
