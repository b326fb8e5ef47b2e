from django.http import HttpResponse


def test_new_session_sets_cookie_and_is_stored(app, expsession, client):
    store = expsession.configure()

    @app
    def view(request):
        request.session["n"] = 1
        return HttpResponse("ok")

    response = client.get("/")
    assert response.status_code == 200
    assert "connect.sid" in response.cookies
    assert expsession.calls["set"] == 1
    assert store.length() == 1
