"""The sidecar's liveness endpoint, through Starlette's test client."""

from starlette.testclient import TestClient

from kaimen_core import config, db
from webhooks.app import create_app


def test_healthz_reports_the_database(database):
    with TestClient(create_app()) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    dialect = {"sqlite": "sqlite", "postgres": "postgresql"}[database.kind]
    assert response.json() == {"status": "ok", "database": dialect}


def test_healthz_answers_503_when_the_database_is_unreachable(monkeypatch, tmp_path):
    # A folder is not a database file: every connection attempt fails.
    monkeypatch.setenv("KAIMEN_DATABASE_URL", f"sqlite:///{tmp_path}")
    config.reset_settings()
    db.reset_engine()
    try:
        with TestClient(create_app()) as client:
            response = client.get("/healthz")
    finally:
        db.reset_engine()
        config.reset_settings()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable (OperationalError)"}


def test_only_get_is_served():
    with TestClient(create_app()) as client:
        assert client.post("/healthz").status_code == 405
