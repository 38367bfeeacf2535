"""In-memory storage; swap for a database-backed class with the same methods."""

from __future__ import annotations

from threading import Lock

from app.models import {{ resource | capitalize }}, {{ resource | capitalize }}In


class FullError(Exception):
    pass


class {{ resource | capitalize }}Repository:
    def __init__(self, limit: int) -> None:
        self._items: dict[int, {{ resource | capitalize }}] = {}
        self._next = 1
        self._limit = limit
        self._lock = Lock()

    def list(self) -> list[{{ resource | capitalize }}]:
        return [self._items[k] for k in sorted(self._items)]

    def get(self, item_id: int) -> {{ resource | capitalize }} | None:
        return self._items.get(item_id)

    def create(self, data: {{ resource | capitalize }}In) -> {{ resource | capitalize }}:
        with self._lock:
            if len(self._items) >= self._limit:
                raise FullError(f"at most {self._limit} {{ resource }}s")
            item = {{ resource | capitalize }}(id=self._next, **data.model_dump())
            self._items[item.id] = item
            self._next += 1
            return item

    def replace(self, item_id: int, data: {{ resource | capitalize }}In) -> {{ resource | capitalize }} | None:
        with self._lock:
            if item_id not in self._items:
                return None
            self._items[item_id] = {{ resource | capitalize }}(id=item_id, **data.model_dump())
            return self._items[item_id]

    def delete(self, item_id: int) -> bool:
        with self._lock:
            return self._items.pop(item_id, None) is not None
