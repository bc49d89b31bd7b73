"""Soak with the app open: `python bench/soak.py --help`.

Seeds a day (default 1,000 drivers, 20,000 orders) in a fresh database, starts the simulator
at speed with the agents on (its morning plans made by the allocator, as a real day's would be;
the simulator runs at a lower CPU priority than the app, as background work should) and the
app's server on the loopback, waits until the simulated day is moving, then holds 8 users on
it for `--minutes`: three on the live map (its map fragment re-runs every 5 s, as the browser asks),
three on Dispatch (reloading, starting rebalances and approving what lands in the inbox, two
of them sometimes clicking the same proposal at once) and two on Fleet mix. The users speak
Streamlit's own websocket protocol, so every page runs on the server exactly as for a browser.

`--sim-until HH:MM` stops the simulated day there while the users go on, so a run can tell
memory kept past its use from the working set of a day whose records keep growing.

Reports errors (exceptions and error boxes on any page, dropped connections, runs that never
finished), p50/p95 page and map-data times, the server's memory at the start and end, and lost
decisions: an approval the page confirmed that is not applied, or a proposal decided or audited
more than once, or a plan version that moved other than once per applied change.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
from sqlalchemy import func, select, text
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from core import auth
from core.db import make_engine, migrate, unit_of_work
from core.models import AuditEntry, Plan, Proposal, ProposalStatus
from core.sim import control as sim_control

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TZ = "America/New_York"  # the seeded metro's hubs
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGES = ("live_map",) * 3 + ("dispatch",) * 3 + ("fleet_mix",) * 2
MAP_TICK_S = 5.0
RELOAD_S = {"live_map": 60.0, "dispatch": 15.0, "fleet_mix": 30.0}
REBALANCE_EVERY_S = 240.0
RUN_TIMEOUT_S = 120.0
COOKIE = "ct_session"  # ui.auth.COOKIE (importing ui here would start Streamlit's caches)
APPROVED = re.compile(r"Proposal (\d+) approved and applied")
SIM_NICE = 10
# refusals a dispatcher expects when a colleague or the day got there first: not errors
REFUSALS = re.compile(
    r"decided by someone else|plan changed|changed state since it was made|proposal \d+ is already"
)
# glibc malloc as `make run` serves (Makefile: MALLOC_ARENAS, MALLOC_MMAP_BYTES)
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}
HUB_FILTER = "frame.hub"  # ui.state.HUB: the sidebar's hub filter, a selectbox


@dataclass
class Stats:
    """What every user saw; one lock, appended from the user threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    page_s: dict[str, list[float]] = field(default_factory=dict)
    map_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    approved: set[int] = field(default_factory=set)
    clicks: Counter[str] = field(default_factory=Counter)
    loaded: set[str] = field(default_factory=set)

    def error(self, where: str, what: str) -> None:
        with self.lock:
            self.errors.append(f"{where}: {what[:300]}")


@dataclass
class Run:
    seconds: float
    map_s: float | None
    buttons: dict[str, str]  # widget id -> label
    selects: dict[str, list[str]]  # selectbox widget id -> its options as shown
    fragments: set[str]
    alerts: list[tuple[int, str]]


class User(threading.Thread):
    """One person with one page open, over the app's websocket."""

    def __init__(self, n: int, page: str, port: int, cookie: str, until: float, stats: Stats) -> None:
        super().__init__(name=f"user-{n}", daemon=True)
        self.n, self.page, self.port, self.cookie, self.until, self.stats = (
            n,
            page,
            port,
            cookie,
            until,
            stats,
        )
        self.random = random.Random(n)
        self.held: dict[str, str] = {}  # widget id -> value the browser sends with every rerun
        self.on_screen: set[str] = set()  # alerts the last full run showed (a notice stays up)

    def run(self) -> None:
        while time.monotonic() < self.until:
            try:
                self._session()
            except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding, then reconnect
                self.stats.error(f"{self.name} {self.page}", f"{type(exc).__name__}: {exc}")
                time.sleep(2)

    def _session(self) -> None:
        url = f"ws://127.0.0.1:{self.port}/_stcore/stream"
        headers = {"Cookie": f"{COOKIE}={self.cookie}"}
        with connect(url, subprotocols=["streamlit"], additional_headers=headers, max_size=None) as ws:  # type: ignore[list-item]
            self.ws = ws
            first = self._rerun()
            if self.page == "dispatch":
                first = self._open_hub(first)
            next_reload = time.monotonic() + RELOAD_S[self.page]
            next_rebalance = time.monotonic() + 20
            fragments = first.fragments
            last = first
            while time.monotonic() < self.until:
                if self.page == "live_map":
                    time.sleep(MAP_TICK_S)
                    for fid in fragments:
                        self._rerun(fragment=fid)
                else:
                    time.sleep(self.random.uniform(0.5, 1.5) * min(RELOAD_S[self.page], 5.0))
                if time.monotonic() >= next_reload:
                    last = self._rerun()
                    fragments = last.fragments or fragments
                    next_reload = time.monotonic() + RELOAD_S[self.page]
                if self.page == "dispatch":
                    last = self._dispatch(last)
                    if time.monotonic() >= next_rebalance and self.n == 3:
                        last = self._click(last, "Rebalance")
                        next_rebalance = time.monotonic() + REBALANCE_EVERY_S

    def _open_hub(self, first: Run) -> Run:
        """Dispatch works on one hub at a time: every dispatcher picks the first hub in the
        sidebar's hub filter, so they share (and race for) one inbox. Like a browser, the user
        then sends that choice with every rerun."""
        hub = next((w for w in first.selects if w.endswith(HUB_FILTER)), None)
        if hub is None or len(first.selects[hub]) < 2:
            return first
        self.held[hub] = first.selects[hub][1]  # [0] is "All hubs"
        return self._rerun()

    def _dispatch(self, last: Run) -> Run:
        """Approve the first pending proposal; the dispatchers race for it now and then."""
        approves = sorted(wid for wid, label in last.buttons.items() if label == "Approve")
        if not approves:
            return self._rerun()
        return self._click(last, "Approve", approves[0])

    def _click(self, last: Run, label: str, widget: str | None = None) -> Run:
        widget = widget or next((w for w, lab in last.buttons.items() if lab == label), None)
        if widget is None:
            return last
        with self.stats.lock:
            self.stats.clicks[label] += 1
        run = self._rerun(trigger=widget)
        for _, message in run.alerts:
            if (m := APPROVED.search(message)) is not None:
                with self.stats.lock:
                    self.stats.approved.add(int(m.group(1)))
        return run

    def _rerun(self, fragment: str | None = None, trigger: str | None = None) -> Run:
        back = BackMsg()
        state = back.rerun_script
        state.page_name = self.page
        state.query_string = ""
        if fragment:
            state.fragment_id = fragment
            state.is_auto_rerun = True
        for wid, value in self.held.items():
            held = state.widget_states.widgets.add()
            held.id, held.string_value = wid, value
        if trigger:
            widget = state.widget_states.widgets.add()
            widget.id = trigger
            widget.trigger_value = True
        started = time.monotonic()
        self.ws.send(back.SerializeToString())
        run = self._collect(started)
        where = f"{self.name} {self.page}{' fragment' if fragment else ''}"
        shown = {message for fmt, message in run.alerts if fmt == _ERROR}
        for message in shown - self.on_screen:  # a notice still up from an earlier run is not news
            if REFUSALS.search(message):
                with self.stats.lock:
                    self.stats.refused.append(message[:120])
            else:
                self.stats.error(where, message)
        if fragment is None:
            self.on_screen = shown
        with self.stats.lock:
            self.stats.loaded.add(self.name)
            if fragment is None:
                self.stats.page_s.setdefault(self.page, []).append(run.seconds)
            if run.map_s is not None and self.page == "live_map":
                self.stats.map_s.append(run.map_s)
        return run

    def _collect(self, started: float) -> Run:
        buttons: dict[str, str] = {}
        selects: dict[str, list[str]] = {}
        fragments: set[str] = set()
        alerts: list[tuple[int, str]] = []
        map_s = None
        while True:
            raw = self.ws.recv(timeout=RUN_TIMEOUT_S)
            msg = ForwardMsg()
            msg.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if msg.delta.fragment_id:
                    fragments.add(msg.delta.fragment_id)
                if which == "deck_gl_json_chart" and map_s is None:
                    map_s = time.monotonic() - started
                elif which == "selectbox":
                    selects[element.selectbox.id] = list(element.selectbox.options)
                elif which == "button" and not element.button.disabled:
                    buttons[element.button.id] = element.button.label
                elif which == "alert":
                    alerts.append((element.alert.format, element.alert.body))
                elif which == "exception":
                    self.stats.error(
                        f"{self.name} {self.page}", f"{element.exception.type}: {element.exception.message}"
                    )
            elif kind == "page_not_found":
                self.stats.error(self.name, f"page not found: {msg.page_not_found.page_name}")
            elif kind == "script_finished":
                return Run(time.monotonic() - started, map_s, buttons, selects, fragments, alerts)


_ERROR = 1  # streamlit.proto.Alert.Format.ERROR


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _memory_curve(pid: int, users: list[User], limit_s: float) -> list[float]:
    """The server's resident MB once a minute until every user is done: a leak keeps climbing,
    a warm-up levels off."""
    curve, deadline, next_s = [], time.monotonic() + limit_s, time.monotonic()
    while any(u.is_alive() for u in users) and time.monotonic() < deadline:
        if time.monotonic() >= next_s:
            curve.append(_rss_mb(pid)[0])
            next_s += 60
        time.sleep(1)
    return curve


def _rss_mb(pid: int) -> tuple[float, float]:
    """The server's resident memory, and that of its children (solver workers), in MB."""
    proc = psutil.Process(pid)
    children = sum(c.memory_info().rss for c in proc.children(recursive=True) if c.is_running())
    return proc.memory_info().rss / 2**20, children / 2**20


def _database(store: str, work: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{work / 'soak.db'}"
    name = f"ct_soak_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    if url.startswith("postgresql"):
        admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


def _sign_in(url: str, secret: bytes) -> str:
    """A signed-in admin's cookie value, made the way the sign-in form makes it."""
    engine = make_engine(url)
    from datetime import timedelta

    with unit_of_work(engine) as session:
        signed = auth.authenticate(
            session, "admin", "admin-demo", secret, now=datetime.now(UTC), lifetime=timedelta(hours=12)
        )
    engine.dispose()
    assert signed is not None, "the demo admin could not sign in"
    return signed.token


def _wait_moving(log: Path, sim: subprocess.Popen[bytes], timeout_s: float = 1800) -> float:
    """Seconds until the simulator has made its morning plans and started the day."""
    started = time.monotonic()
    while "simulating " not in log.read_text(errors="replace"):
        if sim.poll() is not None:
            raise RuntimeError(f"the simulator exited before the day started:\n{log.read_text()[-2000:]}")
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"the simulator did not start the day within {timeout_s:.0f} s")
        time.sleep(2)
    return time.monotonic() - started


def _wait_healthy(port: int, server: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the app's server exited at start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError("the app's server did not answer /_stcore/health")


def _sim_clock(url: str) -> str:
    """The simulator's clock (hub time), to say how much of the day ran."""
    engine = make_engine(url)
    with unit_of_work(engine, read_only=True) as session:
        state = sim_control.current(session)
    engine.dispose()
    return "not started" if state is None else f"{state.sim_now.astimezone(ZoneInfo(TZ)):%H:%M}"


def _server_failures(log: str) -> Counter[str]:
    """The last line of every traceback in the server's log, counted."""
    failures: Counter[str] = Counter()
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith((" ", "(Background"))]
        failures[lines[-1][:160] if lines else "?"] += 1
    return failures


def _lost_decisions(url: str, approved: set[int]) -> list[str]:
    """Decisions the pages confirmed but the store lost, or decisions made more than once."""
    lost: list[str] = []
    engine = make_engine(url)
    with unit_of_work(engine, read_only=True) as session:
        statuses = {p: s for p, s in session.execute(select(Proposal.id, Proposal.status))}
        lost += [
            f"proposal {p} confirmed but {statuses.get(p)}"
            for p in approved
            if statuses.get(p) != ProposalStatus.APPLIED
        ]
        audits = Counter[int]()
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.entity.in_(("plan", "proposal")))):
            if entry.entity == "plan" and "proposal_id" in entry.detail:
                audits[int(entry.detail["proposal_id"])] += 1
            elif entry.action.startswith("reject_") and entry.entity_id is not None:
                audits[entry.entity_id] += 1
        decided = {p for p, s in statuses.items() if s in (ProposalStatus.APPLIED, ProposalStatus.REJECTED)}
        lost += [f"proposal {p} audited {audits[p]} times" for p in decided if audits[p] != 1]
        for plan in session.scalars(select(Plan)):
            applied = session.scalar(
                select(func.count()).where(
                    Proposal.plan_id == plan.id, Proposal.status == ProposalStatus.APPLIED
                )
            )
            if plan.version - 1 < (applied or 0):
                lost.append(f"plan {plan.id} at version {plan.version} after {applied} applied changes")
    engine.dispose()
    return lost


def soak(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="ct_soak_"))
    url = _database(args.store, work)
    secret = secrets.token_urlsafe(48)
    env = {**os.environ, "DATABASE_URL": url, "CT_SECRET_KEY": secret, "PYTHONUNBUFFERED": "1"}
    day = args.date or date.today()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        migrate(make_engine(url))
        started = time.monotonic()
        subprocess.run(
            [BIN / "ctower", "seed", "--orders", str(args.orders), "--drivers", str(args.drivers),
             "--days", "1", "--date", day.isoformat(), "--reset"],
            env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        seed_s = time.monotonic() - started
        sim_log = open(work / "simulator.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [BIN / "ctower", "simulate", "--speed", str(args.speed), "--plan", args.plan,
                 "--plan-seconds", str(args.plan_seconds), "--date", day.isoformat(), "--agents",
                 "--until", args.sim_until],
                env=env, cwd=ROOT, stdout=sim_log, stderr=subprocess.STDOUT,
                preexec_fn=lambda: os.nice(SIM_NICE),
            )
        )  # fmt: skip
        server = subprocess.Popen(
            [BIN / "streamlit", "run", "pages/app.py", "--server.address", "127.0.0.1",
             "--server.port", str(args.port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            env={**env, **MALLOC_ENV}, cwd=ROOT,
            stdout=open(work / "server.log", "wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(server)
        _wait_healthy(args.port, server)
        planned_s = _wait_moving(work / "simulator.log", procs[0])
        cookie = _sign_in(url, secret.encode())
        stats = Stats()
        until = time.monotonic() + args.minutes * 60
        users = [User(n, page, args.port, cookie, until, stats) for n, page in enumerate(PAGES)]
        for user in users:
            user.start()
            time.sleep(0.5)
        while len(stats.loaded) < len(users) and time.monotonic() < until:
            time.sleep(1)  # the baseline: every user's page has run once
        rss_start = _rss_mb(server.pid)
        load_start = os.getloadavg()
        clock_start = _sim_clock(url)
        curve = _memory_curve(server.pid, users, args.minutes * 60 + RUN_TIMEOUT_S + 60)
        rss_end = _rss_mb(server.pid)
        sim_alive = procs[0].poll() is None
        sim_text = (work / "simulator.log").read_text(errors="replace")
        if "Traceback" in sim_text:
            stats.error("simulator", sim_text[sim_text.index("Traceback") :][:500])
        if server.poll() is not None:
            stats.error("server", "exited during the soak")
        return {
            "store": args.store,
            "drivers": args.drivers,
            "orders": args.orders,
            "minutes": args.minutes,
            "seed_s": seed_s,
            "planned_s": planned_s,
            "stats": stats,
            "rss_start": rss_start,
            "rss_end": rss_end,
            "curve": curve,
            "lost": _lost_decisions(url, stats.approved),
            "sim_alive": sim_alive,
            "sim_clock": (clock_start, _sim_clock(url)),
            "server_failures": _server_failures((work / "server.log").read_text(errors="replace")),
            "sim_tail": sim_text[-400:],
            "load": (load_start, os.getloadavg()),
        }
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            _drop(url)
            shutil.rmtree(work, ignore_errors=True)


def report(result: dict[str, object]) -> str:
    stats = result["stats"]
    assert isinstance(stats, Stats)
    pages = [t for times in stats.page_s.values() for t in times]
    rss_start, rss_end = result["rss_start"], result["rss_end"]
    assert isinstance(rss_start, tuple) and isinstance(rss_end, tuple)
    growth = (rss_end[0] - rss_start[0]) / rss_start[0]
    lines = [
        "| store | drivers | orders | minutes | page runs | page p50 s | page p95 s | map-data runs "
        "| map p50 s | map p95 s | errors | server MB start | end | growth | approvals | lost decisions |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        f"| {result['store']} | {result['drivers']:,} | {result['orders']:,} | {result['minutes']} "
        f"| {len(pages)} | {_percentile(pages, 50):.2f} | {_percentile(pages, 95):.2f} | {len(stats.map_s)} "
        f"| {_percentile(stats.map_s, 50):.2f} | {_percentile(stats.map_s, 95):.2f} | {len(stats.errors)} "
        f"| {rss_start[0]:.0f} | {rss_end[0]:.0f} | {growth:+.1%} | {len(stats.approved)} "
        f"| {len(result['lost'])} |",  # type: ignore[arg-type]
        "",
        "per page (p50 / p95 s, runs): "
        + "; ".join(
            f"{page} {_percentile(t, 50):.2f} / {_percentile(t, 95):.2f} ({len(t)})"
            for page, t in sorted(stats.page_s.items())
        ),
        f"clicks: {dict(stats.clicks)}; refused as decided/stale (expected: two clicked at once, or the day "
        "moved on): "
        f"{len(stats.refused)}; solver workers' memory start/end MB: {rss_start[1]:.0f} / {rss_end[1]:.0f}",
        f"seed s: {result['seed_s']:.0f}; morning plans s: {result['planned_s']:.0f}; "
        f"simulator still running at the end: {result['sim_alive']}; "
        f"load average start {result['load'][0]} end {result['load'][1]}",  # type: ignore[index]
    ]
    clock = result["sim_clock"]
    assert isinstance(clock, tuple)
    lines.append(f"simulated clock when the users were all in: {clock[0]}, at the end: {clock[1]}")
    curve = result["curve"]
    assert isinstance(curve, list)
    lines.append("server MB each minute: " + ", ".join(f"{mb:.0f}" for mb in curve))
    failures = result["server_failures"]
    assert isinstance(failures, Counter)
    lines += [f"server log: {n} x {line}" for line, n in failures.most_common(8)]
    shown = Counter(re.sub(r"\\(.)", r"\1", e) for e in stats.errors)
    lines += [f"error: {n} x {e}" for e, n in shown.most_common(12)]
    lines += [f"lost: {e}" for e in result["lost"][:20]]  # type: ignore[index]
    lines.append(f"simulator log tail: {result['sim_tail']!r}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--minutes", type=float, default=20.0, help="how long the users hold the pages open")
    p.add_argument("--drivers", type=int, default=1000)
    p.add_argument("--orders", type=int, default=20000)
    p.add_argument("--speed", type=float, default=60.0, help="simulator speed, times real time")
    p.add_argument("--plan", choices=("allocator", "baseline"), default="allocator")
    p.add_argument("--plan-seconds", type=float, default=20.0, help="allocator s per hub, morning plan")
    p.add_argument("--date", type=date.fromisoformat, default=None, help="the day (default: today)")
    p.add_argument("--sim-until", default="23:59",
                   help="the simulated day stops at this local HH:MM (its records stop growing); "
                   "the users go on")  # fmt: skip
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--keep", action="store_true", help="keep the database and logs (printed)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    print(report(soak(args)))
