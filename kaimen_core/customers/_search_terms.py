"""What a sample of a business's rows says about a search term's pieces, for choosing how
to look the term up (see ``_search``). pg_trgm indexes the three-letter pieces (trigrams)
of each word; a lookup reads one index list per piece of the term.
"""

from __future__ import annotations

from itertools import repeat
from operator import contains

__all__ = ["indexable", "rare_part", "rarest_share", "rows_holding"]

#: A piece of a term found in this share of the sample is left out of a trigram lookup.
_EVERYWHERE = 0.5


def rare_part(needle: str, sample: list[str]) -> str | None:
    """The longest part of ``needle`` none of whose three-character pieces is in most rows
    of ``sample`` (a trigram lookup then reads short lists only); None when every piece is
    (or the term is too short for trigrams): the term is then not rare after all."""
    common = [rows_holding(needle[i:i + 3], sample) >= _EVERYWHERE * len(sample) for i in range(len(needle) - 2)]
    best: tuple[int, int] | None = None
    start = None
    for i, is_common in enumerate([*common, True]):
        if not is_common and start is None:
            start = i
        elif is_common and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    if best is None:
        return None
    part = needle[best[0]:best[1] + 2]
    return part if indexable(part) else None


def rarest_share(part: str, sample: list[str]) -> float:
    """The share of ``sample``'s rows holding the rarest three-letter piece of ``part``
    (letters or digits only, as pg_trgm's trigrams are): about how long the shortest index
    list a lookup of ``part`` reads is."""
    pieces = {part[i:i + 3] for i in range(len(part) - 2) if part[i:i + 3].isalnum()}
    return min((rows_holding(piece, sample) for piece in pieces), default=len(sample)) / max(len(sample), 1)


def rows_holding(text: str, sample: list[str]) -> int:
    """How many rows of ``sample`` hold ``text``."""
    return sum(map(contains, sample, repeat(text)))


def indexable(text: str) -> bool:
    """Whether pg_trgm finds a trigram in ``text`` to look up (three letters or digits in a row)."""
    return any(text[i:i + 3].isalnum() for i in range(len(text) - 2))
