"""bench/rounds.py: the order rule every bench relies on and the figures it prints."""

from __future__ import annotations

from bench.rounds import alternating_rounds, collect, comparison, interleaved_rounds, spread


def test_every_side_runs_once_a_round_in_alternating_order():
    calls: list[tuple[int, str]] = []
    sides = {name: (lambda r, n=name: calls.append((r, n)) or r) for name in ("peer", "ours")}
    per_round = collect(alternating_rounds(sides, 4))
    assert calls == [(0, "peer"), (0, "ours"), (1, "ours"), (1, "peer"), (2, "peer"), (2, "ours"), (3, "ours"),
                     (3, "peer")]
    assert per_round == {"peer": [0, 1, 2, 3], "ours": [0, 1, 2, 3]}  # keyed in the sides' order, whoever ran first


def test_chunks_alternate_within_a_round_and_the_first_side_alternates_by_round():
    runs: list[str] = []

    class Side:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, k: int) -> float:
            runs.append(f"{self.name}{k}")
            return float(k)

    got = list(interleaved_rounds({"a": Side("a"), "b": Side("b")}, n=5, rounds=2, chunk=2))
    assert runs == ["a2", "b2", "b2", "a2", "a1", "b1", "b2", "a2", "a2", "b2", "b1", "a1"]
    assert got == [{"a": 5.0, "b": 5.0}, {"a": 5.0, "b": 5.0}]


def test_figures_are_medians_with_their_spread_and_comparisons_ratios_of_medians():
    assert spread([3.0, 1.0, 2.0, 10.0, 2.5]) == "median 2.500 s, spread 1.000-10.000 s (5 rounds)"
    value, lines = comparison({"plain": [1.0, 2.0, 4.0], "hook": [1.0, 3.0, 8.0]}, {"plain": "P", "hook": "H"},
                              "hook", "plain", "target <= 1.15")
    assert value == 1.5  # median 3 / median 2, not the median of the per-round ratios (2.0)
    assert lines == ["P: median 2.000 s, spread 1.000-4.000 s (3 rounds)",
                     "H: median 3.000 s, spread 1.000-8.000 s (3 rounds)",
                     "hook/plain = 1.50x (ratio of medians; per-round 1.00-2.00x)",
                     "MEDIAN of 3 rounds: ratio hook/plain = 1.500 (target <= 1.15)"]
