"""Driving the middleware by hand, as many projects' own tests do."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.test import AsyncClient, RequestFactory

from django_expsession.middleware import SessionMiddleware


def test_process_request_gives_a_request_factory_request_a_session(expsession):
    store = expsession.configure()
    request = RequestFactory().get("/")
    middleware = SessionMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    request.session["cart"] = [1, 2]
    request.session.save()
    assert store.get(request.session.session_key)["cart"] == [1, 2]


def test_process_response_sets_the_cookie_for_a_hand_driven_request(expsession):
    expsession.configure(SAVE_UNINITIALIZED=False)
    request = RequestFactory().get("/")
    middleware = SessionMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    request.session["user"] = "bob"
    response = middleware.process_response(request, HttpResponse())
    assert "connect.sid" in response.cookies
    assert expsession.store.get(request.session.id)["user"] == "bob"


def test_a_second_instance_leaves_the_first_ones_session_alone(expsession):
    expsession.configure()
    inner = SessionMiddleware(lambda r: HttpResponse())
    outer = SessionMiddleware(inner)
    request = RequestFactory().get("/")
    response = outer(request)
    assert expsession.calls["set"] == 1
    assert "connect.sid" in response.cookies


def test_async_request_with_cookie_split_over_several_header_lines_is_read(async_app, expsession):
    # HTTP/2 sends cookies as separate header lines ("crumbs"); they join
    # with "; " (Django 5.2 itself would join them with ",").
    store = expsession.configure()

    @async_app
    async def view(request):
        await request.session.aset("n", (await request.session.aget("n", 0)) + 1)
        return HttpResponse(str(request.session["n"]))

    client = AsyncClient()
    first = async_to_sync(client.get)("/")
    value = first.cookies["connect.sid"].coded_value
    client.cookies.clear()
    crumbs = [(b"cookie", b"theme=dark"), (b"cookie", f"connect.sid={value}".encode()), (b"cookie", b"x=1")]
    second = async_to_sync(client.request)(method="GET", path="/", headers=crumbs)
    assert second.content == b"2"
    assert store.length() == 1
