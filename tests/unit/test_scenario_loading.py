"""Scenario files: every problem reported at its line and column, readable, all at once;
good files load to plain data; nothing in a file can run code."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from paysandbox.core.cards import Brand
from paysandbox.core.outcomes import DeclineReason
from paysandbox.faults import TRANSPORT_FAULTS
from paysandbox.scenarios import validate
from paysandbox.scenarios.durations import DURATION_PATTERN
from paysandbox.scenarios.loader import (
    MAX_BYTES,
    Problem,
    ScenarioError,
    load_file,
    load_text,
    schema,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "paysandbox" / "scenarios" / "ready" / "README.md"


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    prefix = f"{path}:"
    lines = [str(p) for p in caught.value.problems]
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


# (id, file, [(line:col $.path, message fragment), ...]) - the whole list, in order
BAD: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("unknown top-level key", """\
name: a
sede: 7
rules:
  - latency: 1s
""", [("2:1 $.sede", "unknown key 'sede'; did you mean 'seed'?")]),
    ("typo in a nested key", """\
name: a
rules:
  - match: {provider: stripe}
    latncy: 200ms
""", [("4:5 $.rules[0].latncy", "unknown key 'latncy'; did you mean 'latency'?")]),
    ("typo in a distribution parameter", """\
name: a
rules:
  - latency: {distribution: lognormal, medain: 180ms, sigma: 0.5}
""", [("3:40 $.rules[0].latency.medain", "unknown key 'medain'; did you mean 'median'?")]),
    ("wrong type", """\
name: a
rules:
  - latency: 1s
    first: lots
""", [("4:12 $.rules[0].first", "expected an integer, got the string 'lots'")]),
    ("a list where a mapping belongs", """\
name: a
rules:
  match: {provider: stripe}
""", [("3:3 $.rules", "expected a list, got a mapping")]),
    ("probability above 1", """\
name: a
rules:
  - latency: 1s
    probability: 1.5
""", [("4:18 $.rules[0].probability", "a probability is between 0 and 1, got 1.5")]),
    ("unknown provider", """\
name: a
rules:
  - match: {provider: [stripe, strpe]}
    latency: 1s
""", [("3:32 $.rules[0].match.provider[1]",
       "unknown provider 'strpe'; did you mean 'stripe'? installed: ")]),
    ("an outcome on a rule that matches no payment attempt", """\
name: a
rules:
  - match: {provider: stripe, operation: [capture, refund]}
    outcome: {decline: insufficient_funds}
""", [("4:14 $.rules[0].outcome",
       "this rule matches only capture, refund, where an outcome never applies")]),
    ("unknown decline reason", """\
name: a
rules:
  - outcome: {decline: insufficent_funds}
""", [("3:24 $.rules[0].outcome.decline",
       "unknown decline reason 'insufficent_funds'; did you mean 'insufficient_funds'?")]),
    ("unknown card brand", """\
name: a
rules:
  - match: {card: {brand: mastercrd}}
    fault: hang
""", [("3:27 $.rules[0].match.card.brand",
       "unknown card brand 'mastercrd'; did you mean 'mastercard'?")]),
    ("bad duration", """\
name: a
rules:
  - latency: 5 sec
""", [("3:14 $.rules[0].latency", "'5 sec' is not a duration: write seconds (90) or a "
       "number with a unit: 250ms")]),
    ("negative duration", """\
name: a
phases:
  - {after: -5, for: 30s, rules: [{fault: hang}]}
""", [("3:13 $.phases[0].after", "a duration cannot be negative, got -5")]),
    ("bad fault", """\
name: a
rules:
  - fault: timeout
""", [("3:12 $.rules[0].fault", "a fault is one of: connection_reset | empty_response | "
       "malformed_body | hang, {http: ...}, {slow_body: ...}")]),
    ("misspelt fault", """\
name: a
rules:
  - fault: conection_reset
""", [("3:12 $.rules[0].fault", "unknown fault 'conection_reset'; did you mean "
       "'connection_reset'?")]),
    ("http status out of range", """\
name: a
rules:
  - fault: {http: 700}
""", [("3:19 $.rules[0].fault.http", "must be at most 599, got 700")]),
    ("unknown distribution", """\
name: a
rules:
  - latency: {distribution: lognorml, median: 1s, sigma: 1}
""", [("3:29 $.rules[0].latency.distribution",
       "unknown distribution 'lognorml'; did you mean 'lognormal'?")]),
    ("missing name", """\
rules:
  - latency: 1s
""", [("1:1 $", "missing required key 'name'")]),
    ("bad name", """\
name: Stripe Brownout
rules:
  - latency: 1s
""", [("1:7 $.name", "'Stripe Brownout' is not a valid scenario name")]),
    ("no rules, phases or webhooks", """\
name: a
description: nothing to do
""", [("1:1 $", "a scenario needs at least one of: rules, phases, webhooks")]),
    ("a rule without an effect", """\
name: a
rules:
  - match: {provider: stripe}
""", [("3:5 $.rules[0]", "a rule needs at least one of: outcome, latency, fault")]),
    ("first and every together", """\
name: a
rules:
  - latency: 1s
    first: 3
    every: 2
""", [("5:5 $.rules[0].every", "'first' and 'every' cannot be used together")]),
    ("an unquoted number where a string belongs", """\
name: a
rules:
  - outcome: {decline: generic_decline, native_code: 05}
""", [("3:54 $.rules[0].outcome.native_code",
       'expected a string, got the number 5; quote it: "05"')]),
    ("Norway", """\
name: a
rules:
  - match: {country: NO}
    latency: 1s
""", [("3:22 $.rules[0].match.country", 'got the boolean false; quote it: "NO"')]),
    ("between upside down", """\
name: a
rules:
  - match: {amount: {between: [999, 100]}}
    outcome: approve
""", [("3:31 $.rules[0].match.amount.between",
       "between [999, 100] is empty: write the lowest first: [100, 999]")]),
    ("uniform min above max", """\
name: a
rules:
  - latency: {distribution: uniform, min: 5s, max: 1s}
""", [("3:43 $.rules[0].latency.min", "min (5s) is greater than max (1s)")]),
    ("percentiles decreasing", """\
name: a
rules:
  - latency: {distribution: percentiles, p50: 100ms, p95: 1s, p99: 500ms}
""", [("3:68 $.rules[0].latency.p99", "p99 (500ms) is less than p95 (1s)")]),
    ("repeat not longer than for", """\
name: a
phases:
  - name: flap
    after: 0
    for: 30s
    repeat: 30s
    rules: [{fault: hang}]
""", [("6:13 $.phases[0].repeat", "repeat (30s) must be longer than for (30s)")]),
    ("overlapping phases contradicting each other", """\
name: a
phases:
  - name: a
    after: 0
    for: 90s
    rules: [{match: {provider: stripe}, outcome: approve}]
  - name: b
    after: 60s
    for: 60s
    rules: [{match: {provider: stripe}, outcome: {decline: fraudulent}}]
""", [("10:50 $.phases[1].rules[0].outcome", "phases 'a' and 'b' overlap from 60s to 90s and "
       "both set outcome for the same requests")]),
    ("a repeating phase that comes back over another", """\
name: a
phases:
  - {name: flap, after: 0, for: 10s, repeat: 60s, rules: [{fault: hang}]}
  - {name: late, after: 125s, for: 1h, rules: [{fault: {http: 503}}]}
""", [("4:56 $.phases[1].rules[0].fault", "phases 'flap' and 'late' overlap from 125s to "
       "130s and both set fault")]),
    ("a bad regex", """\
name: a
rules:
  - match: {path: "^/v1/(payment_intents"}
    latency: 1s
""", [("3:19 $.rules[0].match.path", "not a valid regular expression")]),
    ("duplicate key", """\
name: a
rules:
  - latency: 1s
name: b
""", [("4:1 $.name", "duplicate key 'name' (first given at line 1)")]),
    ("a non-finite number", """\
name: a
rules:
  - latency: 1s
    probability: .nan
""", [("4:18 $.rules[0].probability", "'.nan' is not a usable number")]),
    ("syntax error", """\
name: a
rules:
  - latency: 1s
   fault: hang
""", [("4:4 $", "YAML syntax error: expected <block end>")]),
    ("tabs", "name: a\nrules:\n\t- latency: 1s\n",
     [("3:1 $", "indent with spaces, not tabs")]),
    ("two documents", "name: a\nrules: [{latency: 1s}]\n---\nname: b\n",
     [("3:1 $", "expected a single document")]),
    ("empty file", "# just a comment\n", [("1:1 $", "the file is empty")]),
    ("not a mapping", "- name: a\n", [("1:1 $", "expected a mapping, got a list")]),
    ("a set", "name: a\nrules: !!set {a, b}\n", [("2:8 $.rules", "the tag !!set is not allowed")]),
    ("several errors, all reported, in file order", """\
name: a
rules:
  - match: {provider: strpe, currency: usdd}
    outcome: {decline: do_not_honour}
    probability: 2
webhooks:
  duplicate: -0.1
  reorder: maybe
typo: 1
""", [("3:23 $.rules[0].match.provider", "unknown provider 'strpe'"),
      ("3:40 $.rules[0].match.currency", "'usdd' is not a valid currency code"),
      ("4:24 $.rules[0].outcome.decline", "did you mean 'do_not_honor'?"),
      ("5:18 $.rules[0].probability", "a probability is between 0 and 1, got 2"),
      ("7:14 $.webhooks.duplicate", "a probability is between 0 and 1, got -0.1"),
      ("8:12 $.webhooks.reorder", "expected true or false, got the string 'maybe'"),
      ("9:1 $.typo", "unknown key 'typo'")]),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD],
                         ids=[i for i, _, _ in BAD])
def test_bad_file_is_refused_with_every_problem_in_place(
        tmp_path: Path, text: str, expected: list[tuple[str, str]]) -> None:
    found = _problems(tmp_path, text)
    assert len(found) == len(expected), "\n".join(found)
    for line, (where, fragment) in zip(found, expected, strict=True):
        assert line.startswith(where + ": "), line
        assert fragment in line, line


def test_problem_format() -> None:
    problem = Problem("scenarios/pix.yaml", 14, 7, "$.rules[2].latency.median", "bad")
    assert str(problem) == "scenarios/pix.yaml:14:7 $.rules[2].latency.median: bad"


def test_error_lists_every_problem_and_names_the_source() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("name: a\nrules:\n  - {latency: x, fault: y}\n", source="PUT a")
    assert [p.path for p in caught.value.problems] == ["$.rules[0].latency", "$.rules[0].fault"]
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    assert all(p.file == "PUT a" for p in caught.value.problems)


def test_keys_with_punctuation_are_quoted_in_the_path(tmp_path: Path) -> None:
    found = _problems(tmp_path, "name: a\nrules:\n  - match: {header: {X-Case: 5}}\n"
                                "    latency: 1s\n")
    assert found == ["3:30 $.rules[0].match.header['X-Case']: expected a string, got the "
                     'number 5; quote it: "5"']


# -- nothing in a file runs ------------------------------------------------------------


def test_python_tags_are_refused_and_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    found = _problems(tmp_path, f"""\
name: a
rules:
  - latency: !!python/object/apply:os.system ["touch {marker}"]
""")
    assert found == ["3:14 $.rules[0].latency: the tag !!python/object/apply:os.system is not "
                     "allowed: a scenario is plain data (strings, numbers, lists, mappings)"]
    assert not marker.exists()


@pytest.mark.parametrize("text", [
    '!!python/object/apply:os.system ["touch {marker}"]\n',
    'name: !!python/object/new:os.system ["touch {marker}"]\nrules: [{latency: 1s}]\n',
    "name: a\nrules: [{latency: !!python/name:os.system }]\n",
    "name: a\nrules: [{latency: !custom 1s}]\n",
])
def test_other_unsafe_tags_are_refused(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "ran"
    found = _problems(tmp_path, text.replace("{marker}", str(marker)))
    assert len(found) == 1 and "is not allowed" in found[0]
    assert not marker.exists()


def test_an_alias_bomb_is_refused_quickly() -> None:
    bomb = 'name: a\nx0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    bomb += "".join(f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
                    for i in range(1, 10))
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as caught:
        load_text(bomb)
    assert time.perf_counter() - started < 5
    (problem,) = caught.value.problems
    assert "expands to more than 100000 values" in problem.message


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("name: a\nrules: &r [*r]\n")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.path) == (2, 8, "$.rules")
    assert "nests more than 64 levels deep" in problem.message


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("name: a\nrules: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in caught.value.problems[0].message


def test_size_is_capped(tmp_path: Path) -> None:
    big = "name: a\nrules: [{latency: 1s}]\n" + "#" * MAX_BYTES
    with pytest.raises(ScenarioError) as caught:
        load_text(big, source="big")
    assert "larger than 1024 KiB" in str(caught.value)
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(ScenarioError, match="larger than 1024 KiB"):
        load_file(path)


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing\.yaml:1:1 \$: cannot read the file"):
        load_file(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: a\ndescription: caf\xe9\nrules: [{latency: 1s}]\n")
    with pytest.raises(ScenarioError, match=r"latin\.yaml:2:17 \$: the file is not UTF-8"):
        load_file(latin)


# -- good files ------------------------------------------------------------------------


def test_good_file_loads_to_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text("""\
name: pix-mix
description: "Pix: slow, sometimes refused"
seed: 7
priority: 2
start: manual
rules:
  - name: big
    match:
      provider: "*"
      amount: {between: [100, 50_000]}
      currency: [BRL, usd]
      card: {brand: [visa, amex], bin: "424242", last4: "4242", country: BR}
      header: {X-Test-Case: "^slow-"}
      metadata: {order_type: subscription}
      time: {after: 30s, before: 1.5m}
      any: [{method: pix}, {not: {country: US}}]
    every: 3
    outcome: {requires_action: three_ds_challenge, then: {decline: generic_decline,
                                                          native_code: "05"}}
  - latency: {distribution: percentiles, p50: 100ms, p90: 200ms, p95: 300ms, p99: 1s}
    fault: {http: 429, retry_after: 5}
  - outcome: {pending: {after: 30s}}
phases:
  - {after: 0, for: 10s, repeat: 60s, rules: [{fault: {slow_body: 10s}}]}
webhooks:
  match: {provider: stripe, event: [payment_intent.succeeded]}
  delay: 2s
  reorder: false
  fail_first: 0
""")
    assert load_file(path) == {
        "name": "pix-mix", "description": "Pix: slow, sometimes refused", "seed": 7,
        "priority": 2, "start": "manual",
        "rules": [
            {"name": "big",
             "match": {"provider": "*", "amount": {"between": [100, 50000]},
                       "currency": ["BRL", "usd"],
                       "card": {"brand": ["visa", "amex"], "bin": "424242", "last4": "4242",
                                "country": "BR"},
                       "header": {"X-Test-Case": "^slow-"},
                       "metadata": {"order_type": "subscription"},
                       "time": {"after": "30s", "before": "1.5m"},
                       "any": [{"method": "pix"}, {"not": {"country": "US"}}]},
             "every": 3,
             "outcome": {"requires_action": "three_ds_challenge",
                         "then": {"decline": "generic_decline", "native_code": "05"}}},
            {"latency": {"distribution": "percentiles", "p50": "100ms", "p90": "200ms",
                         "p95": "300ms", "p99": "1s"},
             "fault": {"http": 429, "retry_after": 5}},
            {"outcome": {"pending": {"after": "30s"}}},
        ],
        "phases": [{"after": 0, "for": "10s", "repeat": "60s",
                    "rules": [{"fault": {"slow_body": "10s"}}]}],
        "webhooks": {"match": {"provider": "stripe", "event": ["payment_intent.succeeded"]},
                     "delay": "2s", "reorder": False, "fail_first": 0},
    }


def test_anchors_and_merge_keys_are_plain_yaml() -> None:
    doc = load_text("""\
name: a
rules:
  - &slow {match: {provider: stripe}, latency: 1s}
  - <<: *slow
    latency: 2s
  - *slow
""")
    assert doc["rules"] == [{"match": {"provider": "stripe"}, "latency": "1s"},
                            {"match": {"provider": "stripe"}, "latency": "2s"},
                            {"match": {"provider": "stripe"}, "latency": "1s"}]


def test_json_is_accepted() -> None:
    doc = load_text('{"name": "a", "rules": [{"fault": {"http": 503}, "probability": 0.5}]}')
    assert doc == {"name": "a", "rules": [{"fault": {"http": 503}, "probability": 0.5}]}


def test_overlapping_phases_that_agree_or_yield_are_fine() -> None:
    load_text("""\
name: a
phases:
  - {name: a, after: 0, for: 90s, rules: [{match: {provider: stripe}, outcome: approve}]}
  - {name: b, after: 60s, for: 60s, rules: [{match: {provider: stripe}, outcome: approve}]}
  - name: c
    after: 60s
    for: 60s
    rules: [{match: {provider: stripe, operation: capture}, fault: {http: 502}}]
  - name: d
    after: 120s
    for: 60s
    rules: [{match: {provider: stripe}, outcome: {decline: fraudulent}}]
""")


def _readme_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_examples() -> None:
    assert len(_readme_examples()) >= 2


@pytest.mark.parametrize("index", range(len(_readme_examples())))
def test_every_readme_example_is_valid(index: int) -> None:
    doc = load_text(_readme_examples()[index], source=f"README example {index}")
    assert isinstance(doc["name"], str)


# -- the schema and the code agree ------------------------------------------------------


def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = schema()["$defs"]
    return defs


def test_decline_reasons_are_the_codes() -> None:
    assert set(_defs()["decline_reason"]["enum"]) == {r.value for r in DeclineReason}


def test_card_brands_are_the_codes_minus_unknown() -> None:
    assert set(_defs()["brand"]["enum"]) == {b.value for b in Brand} - {Brand.UNKNOWN.value}


def test_durations_and_faults_are_the_codes() -> None:
    assert _defs()["duration"]["anyOf"][1]["pattern"] == DURATION_PATTERN
    assert set(_defs()["fault"]["oneOf"][0]["enum"]) == set(TRANSPORT_FAULTS)


# -- paysandbox validate ----------------------------------------------------------------


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: a\nrules: [{latency: 1s}]\n")
    assert validate.main([str(good)]) == 0
    assert capsys.readouterr().out == "1 file OK\n"


def test_validate_reports_every_problem_of_every_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("name: a\nrules:\n  - latncy: 1s\n    probability: 3\n")
    two = tmp_path / "two.yaml"
    two.write_text("name: b\nrules: [{fault: hang, outcome: aprove}]\n")
    good = tmp_path / "good.yaml"
    good.write_text("name: c\nwebhooks: {duplicate: 0.5}\n")
    assert validate.main([str(one), str(two), str(good)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{one}:3:5 $.rules[0].latncy: unknown key 'latncy'; did you mean 'latency'?",
        f"{one}:4:18 $.rules[0].probability: a probability is between 0 and 1, got 3",
        f"{two}:2:32 $.rules[0].outcome: unknown outcome 'aprove'; did you mean 'approve'?",
        "3 files, 3 errors",
    ]


def test_validate_a_folder_and_a_missing_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nrules: [{latency: 1s}]\n")
    (tmp_path / "notes.txt").write_text("not a scenario")
    assert validate.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1 file OK\n"
    assert validate.main([str(tmp_path / "nope.yaml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{tmp_path / 'nope.yaml'}:1:1 $: cannot read the file")
    assert out[1] == "1 file, 1 error"


def test_validate_without_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main([]) == 1
    assert "no scenario files given" in capsys.readouterr().out
