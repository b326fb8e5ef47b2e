"""Driving the middleware by hand, as many projects' own tests do."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

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
