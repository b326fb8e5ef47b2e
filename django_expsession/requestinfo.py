"""What express reads off a request, read off a Django request.

Pure helpers: the raw path (the cookie-path test), the Cookie header, and
express's ``issecure`` (the secure gate and ``"auto"`` resolution).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.encoding import escape_uri_path


def raw_path(request: HttpRequest) -> str:
    """The undecoded request path, as express's ``originalUrl`` pathname."""
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("raw_path"):
        path: str = scope["raw_path"].decode("latin-1")
        root: str = scope.get("root_path", "")
        # Some servers give raw_path without the mount prefix.
        return path if not root or path.startswith(root) else root + path
    meta = request.META
    uri = meta.get("RAW_URI") or meta.get("REQUEST_URI")
    if uri:
        path = uri.split("?", 1)[0]
        if "://" in path:  # an absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/"
    return escape_uri_path(request.path) or "/"


def cookie_header(request: HttpRequest) -> str | None:
    """The request's Cookie header; several ASGI header lines join with "; ".

    (HTTP/2 splits cookies over lines; Django 5.2 joins them with ",".)
    """
    scope = getattr(request, "scope", None)
    if scope is None:
        return request.META.get("HTTP_COOKIE")
    lines = [
        value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"cookie" and value
    ]
    return "; ".join(lines) or None


def is_secure(request: HttpRequest, proxy: bool | None) -> bool:
    """express's ``issecure``: the secure gate and 'auto' resolution."""
    direct: bool = request._get_scheme() == "https"  # type: ignore[attr-defined]
    if direct or proxy is None:
        return direct or request.is_secure()
    if proxy is False:
        return False
    header = str(request.META.get("HTTP_X_FORWARDED_PROTO", ""))
    return header.split(",", 1)[0].strip().lower() == "https"
