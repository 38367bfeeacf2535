{{ (service_name ~ ": HTTP routes.") | pyrepr }}

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, status

from app.config import Settings
from app.models import {{ resource | capitalize }}, {{ resource | capitalize }}In
from app.repository import FullError, {{ resource | capitalize }}Repository


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title=settings.service_name)
    repo = {{ resource | capitalize }}Repository(settings.max_{{ resource }}s)
    router = APIRouter(prefix=settings.api_prefix + "/{{ resource }}s", tags=["{{ resource }}s"])

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @router.get("", response_model=list[{{ resource | capitalize }}])
    def list_{{ resource }}s() -> list[{{ resource | capitalize }}]:
        return repo.list()

    @router.post("", response_model={{ resource | capitalize }}, status_code=status.HTTP_201_CREATED)
    def create_{{ resource }}(body: {{ resource | capitalize }}In) -> {{ resource | capitalize }}:
        try:
            return repo.create(body)
        except FullError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None

    @router.get("/{item_id}", response_model={{ resource | capitalize }})
    def get_{{ resource }}(item_id: int) -> {{ resource | capitalize }}:
        item = repo.get(item_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "{{ resource }} not found")
        return item

    @router.put("/{item_id}", response_model={{ resource | capitalize }})
    def replace_{{ resource }}(item_id: int, body: {{ resource | capitalize }}In) -> {{ resource | capitalize }}:
        item = repo.replace(item_id, body)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "{{ resource }} not found")
        return item

    @router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_{{ resource }}(item_id: int) -> None:
        if not repo.delete(item_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "{{ resource }} not found")

    app.include_router(router)
    return app


app = create_app()
