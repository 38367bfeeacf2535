"""create_once: look up first, create, and after an ambiguous failure look up again before raising."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.create_once import create_once


class LostAnswer(Exception):
    """A create that may have happened (its answer was lost)."""


class Refused(Exception):
    """A create that certainly did not happen."""


class Store:
    """A service with one slot: ``lookups`` and ``creates`` count the calls."""

    def __init__(self, existing=None, *, fail=None, commit_before_failing=False):
        self.value, self.fail, self.commit = existing, fail, commit_before_failing
        self.lookups = self.creates = 0
        self.found: list = []

    def lookup(self):
        self.lookups += 1
        return self.value

    def create(self):
        self.creates += 1
        if self.fail is not None:
            if self.commit:
                self.value = "made"
            raise self.fail
        self.value = "made"
        return "made"

    def run(self, ambiguous=LostAnswer):
        return create_once(self.lookup, self.create, ambiguous=ambiguous, on_found=self.found.append)


def test_an_existing_object_is_returned_without_creating():
    store = Store("earlier")
    assert store.run() == "earlier"
    assert (store.lookups, store.creates, store.found) == (1, 0, ["earlier"])


def test_nothing_found_creates_once():
    store = Store()
    assert store.run() == "made"
    assert (store.lookups, store.creates, store.found) == (1, 1, [])


def test_an_ambiguous_failure_that_did_create_returns_the_object_found_then():
    store = Store(fail=LostAnswer("reset"), commit_before_failing=True)
    assert store.run() == "made"
    assert (store.lookups, store.creates) == (2, 1)
    assert store.found == []  # found after the create, not by the first lookup


def test_an_ambiguous_failure_that_created_nothing_raises_it():
    failure = LostAnswer("reset")
    store = Store(fail=failure)
    with pytest.raises(LostAnswer) as err:
        store.run()
    assert err.value is failure and (store.lookups, store.creates) == (2, 1)


def test_a_failure_that_is_not_ambiguous_raises_without_looking_again():
    store = Store(fail=Refused("400"), commit_before_failing=True)
    with pytest.raises(Refused):
        store.run()
    assert (store.lookups, store.creates) == (1, 1)


def test_ambiguity_may_be_a_predicate_or_a_tuple_of_classes():
    by_message = Store(fail=Refused("name already taken"), commit_before_failing=True)
    assert by_message.run(ambiguous=lambda exc: "taken" in str(exc)) == "made"
    by_tuple = Store(fail=Refused("x"), commit_before_failing=True)
    assert by_tuple.run(ambiguous=(LostAnswer, Refused)) == "made"


def test_by_default_no_failure_is_ambiguous():
    store = Store(fail=LostAnswer("reset"), commit_before_failing=True)
    with pytest.raises(LostAnswer):
        create_once(store.lookup, store.create)
    assert store.lookups == 1
