{{ ("Core text helpers of " ~ project_name ~ ".") | pyrepr }}

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, separator: str = "-") -> str:
    """ASCII, lower-case, words joined by ``separator``; empty input gives an empty slug."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_WORD.sub(separator, ascii_text.lower()).strip(separator)


def word_count(text: str) -> dict[str, int]:
    """How often each (case-folded) word occurs."""
    counts: dict[str, int] = {}
    for word in re.findall(r"\w+", text.casefold()):
        counts[word] = counts.get(word, 0) + 1
    return counts
