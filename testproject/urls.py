from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("expiry/", views.expiry, name="expiry"),
    path("stored/", views.stored, name="stored"),
    # "Your sessions": where this user is logged in, and a button to end each.
    # The page extends the demo's base template instead of its own standalone one.
    path("account/sessions/", include("django_expsession.urls"), {"base_template": "base.html"}),
    re_path(r"^(?P<path>.*)$", views.counter, name="counter"),
]
