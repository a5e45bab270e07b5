"""Receivers for the fleet outbox tests, started and stopped per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outbox.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def plain_receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=False)
    r.start()
    yield r
    r.stop()
