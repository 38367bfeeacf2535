"""The one parser for booleans written as text (connection extras, ``[hisham]`` options, template
variables, backend kwargs).

One truth table everywhere, so ``"off"`` means false in every field. A value outside it is
refused with the field's name instead of being guessed (a typo in ``verify_ssl`` must not turn
TLS verification off, or on).
"""

from __future__ import annotations

from typing import Any

TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
#: Longest piece of a refused value quoted in the error (the value may be anything a user typed).
_QUOTE = 40


class BooleanValueError(ValueError):
    """A value that is not one of the accepted spellings of true or false (names the field)."""

    def __init__(self, field: str, value: Any) -> None:
        shown = repr(value)
        if len(shown) > _QUOTE:
            shown = shown[:_QUOTE] + "..."
        self.field = field
        self.reason = f"expected a boolean (true/false, yes/no, on/off, 1/0), got {shown}"
        super().__init__(f"{field}: {self.reason}")


def parse_bool(value: Any, field: str, *, default: bool | None = None) -> bool:
    """``value`` as a bool: a bool, the int 0 or 1, or a string of :data:`TRUE` / :data:`FALSE`
    (case and surrounding space ignored).

    ``None`` and the empty string are ``default``; without a default they are refused too.
    """
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise BooleanValueError(field, value)
        return default
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
    raise BooleanValueError(field, value)
