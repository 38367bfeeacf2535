"""Request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


class {{ resource | capitalize }}In(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    price: float = Field(ge=0)


class {{ resource | capitalize }}({{ resource | capitalize }}In):
    id: int
