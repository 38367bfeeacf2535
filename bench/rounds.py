"""Interleaved rounds and their summary, shared by every two-sided bench.

Why: on a shared machine one run of a bench can be twice as fast as the next. Each round runs
every side once, the order reversed every other round, so load from other processes hits all
sides alike; a figure is the median of the per-round values, printed with its spread (min-max),
and a comparison is the ratio of the medians.
"""

from __future__ import annotations

import statistics
from typing import Callable, Iterator, Mapping, Sequence, TypeVar

DEFAULT_ROUNDS = 5
T = TypeVar("T")


def order(names: Sequence[str], round_no: int) -> list[str]:
    """The sides in the order they run in round ``round_no`` (0-based): reversed every other round."""
    return list(names) if round_no % 2 == 0 else list(names)[::-1]


def alternating_rounds(sides: Mapping[str, Callable[[int], T]], rounds: int) -> Iterator[dict[str, T]]:
    """Each round's ``{side: sides[side](round_no)}``, every side once a round in alternating order."""
    for r in range(rounds):
        got = {side: sides[side](r) for side in order(tuple(sides), r)}
        yield {side: got[side] for side in sides}


def interleaved_rounds(sides: dict, n: int, rounds: int, chunk: int) -> Iterator[dict[str, float]]:
    """Each round's ``{side: seconds}`` for ``n`` runs a side (``side.run(k)`` returns the seconds of
    ``k`` runs): small chunks of each side in turn, the first side alternating by chunk and round."""
    names = tuple(sides)
    for r in range(rounds):
        times = dict.fromkeys(names, 0.0)
        done = 0
        while done < n:
            size = min(chunk, n - done)
            for side in order(names, done // chunk + r):
                times[side] += sides[side].run(size)
            done += size
        yield times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], unit: str = "s", digits: int = 3) -> str:
    """``median 1.234 s, spread 1.100-1.300 s (5 rounds)``: the line every bench prints for a figure."""
    f = f"{{:.{digits}f}}"
    return (f"median {f.format(median(values))} {unit}, spread {f.format(min(values))}-{f.format(max(values))} {unit} "
            f"({len(values)} rounds)")


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The ratio of the medians (not the median of per-round ratios: each side's figure stands alone)."""
    return median(numerator) / median(denominator)


def ratio_spread(numerator: Sequence[float], denominator: Sequence[float], digits: int = 2) -> str:
    """``1.23x (ratio of medians; per-round 1.10-1.40x)``."""
    per_round = [a / b for a, b in zip(numerator, denominator)]
    f = f"{{:.{digits}f}}"
    return (f"{f.format(ratio(numerator, denominator))}x (ratio of medians; per-round "
            f"{f.format(min(per_round))}-{f.format(max(per_round))}x)")
