"""Text folding for matching and search: "Beyoncé" and "BEYONCE" are the same key.

`fold` decomposes (NFKD), drops combining marks, case-folds and collapses whitespace; letters
without a decomposition that users type differently (ø, æ, ß, ł, đ, þ) are spelled out.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_SPELLED = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "þ": "th",
        "Þ": "th",
        "ð": "d",
        "Ð": "d",
    }
)


def fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.translate(_SPELLED))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped.casefold()).strip()


ARTICLES = ("the ", "a ", "an ", "le ", "la ", "les ", "die ", "der ", "das ", "el ", "los ")


def sort_key(value: str) -> str:
    """The sort form of a title or name: folded, a leading article moved out of the way."""
    folded = fold(value)
    for article in ARTICLES:
        if folded.startswith(article) and len(folded) > len(article):
            return folded[len(article) :]
    return folded
