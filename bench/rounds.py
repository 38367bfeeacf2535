"""Interleaved rounds and their summary, shared by every two-sided bench.

Why: on a shared machine one run of a bench can be twice as fast as the next. Each round runs
every side once, the order reversed every other round, so load from other processes hits all
sides alike; a figure is the median of the per-round values, printed with its spread (min-max),
and a comparison is the ratio of the medians.
"""

from __future__ import annotations

import statistics
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

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


def collect(rounds: Iterable[dict[str, T]], on_round: Callable[[int, dict[str, T]], None] | None = None,
            ) -> dict[str, list[T]]:
    """``{side: [value of round 1, round 2, ...]}`` from the rounds; ``on_round(number, values)``
    (1-based) sees each round as it ends, e.g. to print it."""
    per_round: dict[str, list[T]] = {}
    for number, got in enumerate(rounds, 1):
        for side, value in got.items():
            per_round.setdefault(side, []).append(value)
        if on_round:
            on_round(number, got)
    return per_round


def round_printer(n: int, per: str, unit: str, numerator: str, denominator: str,
                  ) -> Callable[[int, dict[str, float]], None]:
    """An ``on_round`` for ``collect`` printing ``round 2: plain 1.000 s (100 us/story), hook ..., ratio 1.050``
    (``unit`` is ``us`` or ``ms``, per each of the ``n`` runs a side)."""
    scale = {"us": 1e6, "ms": 1e3}[unit]

    def show(number: int, times: dict[str, float]) -> None:
        sides = ", ".join(f"{side} {seconds:.3f} s ({seconds / n * scale:.{0 if unit == 'us' else 2}f} {unit}/{per})"
                          for side, seconds in times.items())
        print(f"round {number}: {sides}, ratio {times[numerator] / times[denominator]:.3f}", flush=True)
    return show


def comparison(per_round: Mapping[str, Sequence[float]], labels: Mapping[str, str], numerator: str,
               denominator: str, target: str) -> tuple[float, list[str]]:
    """The ratio of medians ``numerator / denominator`` and the summary lines: each side's median
    and spread (``labels[side]: ...``), the ratio with its per-round range, and a last line
    ``MEDIAN of N rounds: ratio numerator/denominator = 1.234 (target)``."""
    lines = [f"{labels[side]}: {spread(per_round[side])}" for side in labels]
    value = ratio(per_round[numerator], per_round[denominator])
    lines.append(f"{numerator}/{denominator} = {ratio_spread(per_round[numerator], per_round[denominator])}")
    lines.append(f"MEDIAN of {len(per_round[numerator])} rounds: ratio {numerator}/{denominator} = {value:.3f} ({target})")
    return value, lines


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
