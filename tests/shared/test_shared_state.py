"""A fleet is one simulator: two `paysandbox serve` processes on one real redis-server
share the virtual clock, the scenarios and their phase timeline, the scheduled commands
and the journal."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from paysandbox.shared.schedule import _CLAIM, LEASE
from tests.waiting import wait_until

KEY = "sk_test_fleet_shared"
PREFIX = "paysandbox:{fleet}:"


class Serve:
    """One `paysandbox serve` process on a free loopback port."""

    def __init__(self, store: str, name: str, logs: Any, *args: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.name = name
        self.log = logs / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paysandbox", "serve", "--port", str(self.port),
                 "--store", store, *args], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PAYSANDBOX_STORE": ""})
        if not wait_until(self._up, 30):
            self.stop()
            pytest.fail(f"{name} did not start:\n{self.log.read_text()}")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited:\n{self.log.read_text()}")
        try:
            return self.admin("GET", "/health")["status"] == "ok"
        except OSError:
            return False

    def call(self, method: str, path: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        status, answer = self.call(method, "/__admin" + path, data,
                                   {"Content-Type": "application/json"})
        assert status < 400, (status, answer)
        return answer

    def put_scenario(self, name: str, yaml: str) -> None:
        status, answer = self.call("PUT", f"/__admin/scenarios/{name}", yaml.encode(),
                                   {"Content-Type": "application/yaml"})
        assert status in (200, 201), answer

    def stripe(self, path: str, **form: str) -> tuple[int, Any]:
        token = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
        return self.call("POST", "/stripe" + path,
                         "&".join(f"{k}={v}" for k, v in form.items()).encode(),
                         {"Authorization": token,
                          "Content-Type": "application/x-www-form-urlencoded"})

    def now(self) -> float:
        return float(self.admin("GET", "/clock")["now"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fleet(redis_url: str, tmp_path: Any) -> Iterator[tuple[Serve, Serve]]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    a = Serve(redis_url, "a", tmp_path)
    try:
        b = Serve(redis_url, "b", tmp_path)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()
        client.flushdb()
        client.close()


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


SLOW_BANK = """\
name: slow-bank
rules:
  - match: {provider: stripe, operation: authorize}
    outcome: {pending: {after: 30s}}
"""


def loaded(server: Serve, name: str) -> bool:
    return any(s["name"] == name for s in server.admin("GET", "/scenarios")["scenarios"])


def pending_payment(server: Serve) -> str:
    status, pi = server.stripe("/v1/payment_intents", amount="1000", currency="eur",
                               payment_method="pm_card_visa", confirm="true")
    assert (status, pi["status"]) == (200, "processing"), pi
    return str(pi["id"])


def history(server: Serve, pid: str) -> list[str]:
    return [h["action"] for h in server.admin("GET", f"/payments/{pid}")["history"]]


def events(server: Serve) -> list[str]:
    token = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    status, answer = server.call("GET", "/stripe/v1/events?limit=100", None,
                                 {"Authorization": token})
    assert status == 200, answer
    return [e["type"] for e in answer["data"]]


def test_advancing_the_clock_on_one_process_moves_the_fleet_and_settles_once(
        fleet: tuple[Serve, Serve]) -> None:
    a, b = fleet
    a.put_scenario("slow-bank", SLOW_BANK)
    assert wait_until(lambda: loaded(b, "slow-bank"), 5)
    pid = pending_payment(b)  # its settlement is scheduled by b, at +30 s
    others = [pending_payment(s) for s in (a, b, a, b, a)]
    before = b.now()
    assert a.admin("POST", "/clock/advance", {"by": "60s"})["offset"] == 60.0
    assert wait_until(lambda: b.now() >= before + 60, 5), "b's clock did not follow a's"
    assert wait_until(lambda: "complete" in history(a, pid), 10)
    assert a.admin("GET", f"/payments/{pid}")["status"] == "captured"
    assert history(b, pid) == ["authorize", "complete"]
    for other in others:
        assert wait_until(lambda other=other: "complete" in history(b, other), 10)
    # Each settlement ran in exactly one process: one event per payment.
    assert events(b).count("payment_intent.succeeded") == 1 + len(others)


def intent(server: Serve) -> int:
    return server.stripe("/v1/payment_intents", amount="500", currency="eur")[0]


OUTAGE = """\
name: outage
phases:
  - {after: 1h, for: 1h, rules: [{match: {provider: stripe}, fault: {http: 503}}]}
"""


def test_an_outage_phase_loaded_on_one_process_starts_at_the_same_instant_everywhere(
        fleet: tuple[Serve, Serve]) -> None:
    a, b = fleet
    a.put_scenario("outage", OUTAGE)
    assert wait_until(lambda: loaded(b, "outage"), 5)
    assert intent(b) == 200  # before the phase
    started = {}
    for s in (a, b):  # the phase's origin, as each process measures it
        status = s.admin("GET", "/scenarios/outage")
        started[s.name] = s.now() - status["elapsed_s"]
    assert abs(started["a"] - started["b"]) < 0.1, started
    b.admin("POST", "/clock/advance", {"by": "3601s"})
    assert wait_until(lambda: a.now() >= started["a"] + 3601, 5)
    assert intent(a) == 503
    assert intent(b) == 503
    assert b.admin("GET", "/scenarios/outage")["phases"][0]["active"] is True
    a.admin("DELETE", "/scenarios/outage")  # unloaded through a: gone from b too
    assert wait_until(lambda: not loaded(b, "outage"), 5)
    assert intent(b) == 200


def test_a_watched_file_runs_on_one_timeline_however_many_processes_load_it(
        redis_url: str, tmp_path: Any, db: redis.Redis) -> None:
    db.flushdb()
    path = tmp_path / "slow-bank.yaml"
    path.write_text(SLOW_BANK)
    a = Serve(redis_url, "a", tmp_path, "--scenario", str(path), "--watch")
    try:
        a.admin("POST", "/clock/advance", {"by": "10m"})
        b = Serve(redis_url, "b", tmp_path, "--scenario", str(path), "--watch")
        try:
            def origins() -> list[float]:
                return [s.now() - s.admin("GET", "/scenarios/slow-bank")["elapsed_s"]
                        for s in (a, b)]

            first = origins()  # b joined a's timeline rather than restarting it
            assert abs(first[0] - first[1]) < 0.1, first
            path.write_text(SLOW_BANK.replace("30s", "45s"))  # both processes see it

            def reloaded(s: Serve) -> bool:
                rule = s.admin("GET", "/scenarios/slow-bank")["document"]["rules"][0]
                return bool(rule["outcome"] == {"pending": {"after": "45s"}})

            assert wait_until(lambda: reloaded(a) and reloaded(b), 10)

            def one_timeline() -> bool:
                again = origins()
                return abs(again[0] - again[1]) < 0.1

            assert wait_until(one_timeline, 5), origins()
            assert origins()[0] > first[0] + 599  # restarted by the edit, for both
        finally:
            b.stop()
    finally:
        a.stop()
        db.flushdb()


def test_a_bad_scenario_through_one_process_keeps_the_running_one_everywhere(
        fleet: tuple[Serve, Serve]) -> None:
    a, b = fleet
    a.put_scenario("slow-bank", SLOW_BANK)
    status, answer = b.call("PUT", "/__admin/scenarios/slow-bank",
                            b"name: slow-bank\nrules: [{match: {provider: 7}}]\n",
                            {"Content-Type": "application/yaml"})
    assert status == 400 and answer["error"]["problems"], answer
    for s in (a, b):
        assert wait_until(lambda s=s: loaded(s, "slow-bank"), 5)
        assert s.admin("GET", "/scenarios/slow-bank")["document"]["rules"][0]["outcome"] == {
            "pending": {"after": "30s"}}


def test_a_killed_process_loses_none_of_its_scheduled_commands(
        fleet: tuple[Serve, Serve], db: redis.Redis) -> None:
    a, b = fleet
    a.put_scenario("slow-bank", SLOW_BANK)
    pid = pending_payment(a)
    assert wait_until(lambda: db.zcard(PREFIX + "schedule") == 1, 5)
    a.proc.kill()  # SIGKILL: no shutdown of any kind
    a.proc.wait()
    b.admin("POST", "/clock/advance", {"by": "60s"})
    assert wait_until(lambda: "complete" in history(b, pid), 10)
    assert b.admin("GET", f"/payments/{pid}")["status"] == "captured"


def test_a_command_whose_claimant_died_runs_on_another_process_after_the_lease(
        fleet: tuple[Serve, Serve], db: redis.Redis) -> None:
    a, b = fleet
    a.put_scenario("slow-bank", SLOW_BANK)
    pid = pending_payment(a)
    assert wait_until(lambda: db.zcard(PREFIX + "schedule") == 1, 5)
    # A claimant with the fleet's own claim script, for which the command was due, that
    # then died (kill -9) before running it: the claim stays, with its lease.
    claimant = subprocess.run(
        [sys.executable, "-c", "import os, sys, redis\n"
         "r = redis.Redis.from_url(sys.argv[1])\n"
         "claimed, _, _ = r.eval(sys.argv[2], 2, sys.argv[3] + 'schedule', "
         "sys.argv[3] + 'schedule:claims', sys.argv[4], __import__('time').time(), "
         "sys.argv[5], 10)\n"
         "assert len(claimed) == 1, claimed\n"
         "os.kill(os.getpid(), 9)\n",
         _url(db), _CLAIM, PREFIX,
         repr(a.now() + 3600), repr(LEASE)], capture_output=True, text=True, timeout=30)
    assert claimant.returncode == -signal.SIGKILL, claimant.stderr
    assert db.zcard(PREFIX + "schedule") == 0
    assert db.zcard(PREFIX + "schedule:claims") == 1
    assert history(b, pid) == ["authorize"]  # nobody ran it: its holder is dead
    assert wait_until(lambda: "complete" in history(b, pid), LEASE + 10)
    assert wait_until(lambda: db.zcard(PREFIX + "schedule:claims") == 0, 5)
    assert events(a).count("payment_intent.succeeded") == 1


def _url(db: redis.Redis) -> str:
    kw = db.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


def test_the_journal_of_one_process_lists_the_other_processes_requests(
        fleet: tuple[Serve, Serve]) -> None:
    a, b = fleet
    status, intent_b = b.stripe("/v1/payment_intents", amount="700", currency="eur")
    assert status == 200

    def listed() -> list[dict[str, Any]]:
        return [e for e in a.admin("GET", "/journal?provider=stripe")["entries"]
                if e["path"] == "/stripe/v1/payment_intents"]

    assert wait_until(listed, 5)
    entry = listed()[0]
    assert entry["method"] == "POST" and entry["status"] == 200
    assert entry["response"]["id"] == intent_b["id"]
    a.stripe("/v1/payment_intents", amount="800", currency="eur")
    assert wait_until(lambda: len(listed()) == 2, 5)
    newest, older = listed()
    assert newest["seq"] > older["seq"]
    after = b.admin("GET", f"/journal?after={older['seq']}&bodies=false")["entries"]
    assert [e["seq"] for e in after] == [newest["seq"]]
    assert a.admin("GET", "/health")["fleet"] == {"journal_dropped": 0, "schedule_dropped": 0}

    # One entry, and a payment's requests, are the fleet's too: A shows what B served.
    shown = a.admin("GET", f"/journal/{older['seq']}")
    assert shown["response"]["id"] == intent_b["id"] and shown["seq"] == older["seq"]
    explained = a.admin("GET", f"/payments/{intent_b['id']}/explain")
    assert [r["seq"] for r in explained["requests"]] == [older["seq"]]


def test_a_process_started_later_joins_the_fleets_clock_and_scenarios_even_after_a_reset(
        fleet: tuple[Serve, Serve], redis_url: str, tmp_path: Any) -> None:
    a, b = fleet
    a.put_scenario("outage", OUTAGE)
    a.admin("POST", "/clock/advance", {"by": "2h"})
    b.admin("POST", "/reset", {})  # forgets payments, not the time or the scenarios
    c = Serve(redis_url, "c", tmp_path)
    try:
        assert c.admin("GET", "/clock")["offset"] == 7200.0
        assert loaded(c, "outage")
        origin = {s.name: s.now() - s.admin("GET", "/scenarios/outage")["elapsed_s"]
                  for s in (a, c)}
        assert abs(origin["a"] - origin["c"]) < 0.1, origin
    finally:
        c.stop()
