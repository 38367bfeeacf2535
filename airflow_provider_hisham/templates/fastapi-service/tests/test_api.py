import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

BASE = {{ (api_prefix ~ "/" ~ resource ~ "s") | pyrepr }}


@pytest.fixture
def client():
    return TestClient(create_app(Settings(max_{{ resource }}s=2)))


def test_health(client):
    assert client.get("/health").json() == {"status": "ok", "service": {{ service_name | pyrepr }}}


def test_crud_round_trip(client):
    created = client.post(BASE, json={"name": "first", "price": 2.5})
    assert created.status_code == 201
    item = created.json()
    assert item == {"id": 1, "name": "first", "description": "", "price": 2.5}
    assert client.get(f"{BASE}/1").json() == item
    assert client.get(BASE).json() == [item]
    replaced = client.put(f"{BASE}/1", json={"name": "renamed", "price": 3})
    assert replaced.json()["name"] == "renamed"
    assert client.delete(f"{BASE}/1").status_code == 204
    assert client.get(f"{BASE}/1").status_code == 404


def test_validation_and_limits(client):
    assert client.post(BASE, json={"name": "", "price": 1}).status_code == 422
    assert client.post(BASE, json={"name": "x", "price": -1}).status_code == 422
    for i in range(2):
        assert client.post(BASE, json={"name": f"n{i}", "price": 1}).status_code == 201
    full = client.post(BASE, json={"name": "third", "price": 1})
    assert full.status_code == 409
    assert client.delete(f"{BASE}/99").status_code == 404
