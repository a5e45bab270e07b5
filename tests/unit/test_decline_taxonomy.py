"""One taxonomy, many dialects: every installed provider says every canonical decline
reason its own way, with nothing missing and nothing it does not know."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from paysandbox.core.outcomes import DeclineReason
from paysandbox.providers import base

PROVIDERS = sorted(base.available())


def codes_of(name: str) -> dict[str, Any]:
    module = base.available()[name].value.partition(":")[0]
    package = module.rpartition(".")[0]
    text = resources.files(package).joinpath("codes.yaml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict), f"{package}/codes.yaml is not a mapping"
    return loaded


def test_the_card_acquirers_are_installed() -> None:
    assert {"stripe", "adyen", "checkoutcom"} <= set(PROVIDERS)


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_reason_has_a_native_code_and_nothing_else(name: str) -> None:
    codes = codes_of(name)
    reasons = {r.value for r in DeclineReason}
    assert sorted(reasons - set(codes)) == [], f"{name}/codes.yaml misses these reasons"
    assert sorted(set(codes) - reasons) == [], f"{name}/codes.yaml has unknown reasons"
    for reason, native in codes.items():
        assert native, f"{name}: {reason} maps to nothing"
