"""``manage.py createdemouser``: the demo's login (and admin) user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create or reset the demo user, a superuser who can log in to the site and the admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo", help="The user name (default: demo).")
        parser.add_argument("--password", default="demo", help="The password (default: demo).")

    def handle(self, *args: Any, username: str, password: str, **options: Any) -> None:
        user, created = get_user_model()._default_manager.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(f"{verb} the demo user {username!r} (password {password!r}).")
