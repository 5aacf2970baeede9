"""Completion's offers on literals: a fake connection's names, no server."""

from __future__ import annotations

import pytest

from sysmon_magic import promql
from sysmon_magic.completion import Names, complete


class NoNames(Names):
    """A connection that knows no metrics or labels: only PromQL's own words are offered."""

    def __init__(self) -> None:  # no client: nothing is fetched
        pass

    def metrics(self) -> list[str]:
        return []

    def labels(self, metric: str | None) -> list[str]:
        return []

    def values(self, label: str, metric: str | None) -> list[str]:
        return []


@pytest.mark.parametrize("name", promql.FUNCTIONS)
def test_every_function_of_the_one_vocabulary_is_offered(name):
    # Once completion had a list of its own, 39 functions short (sort_by_label, limitk, ...).
    fragment, offers = complete(f"sum({name}", NoNames())
    assert fragment == name and (name, "function") in offers


@pytest.mark.parametrize("word", promql.KEYWORDS)
def test_every_keyword_is_offered(word):
    assert (word, "keyword") in complete(f"up {word}", NoNames())[1]
