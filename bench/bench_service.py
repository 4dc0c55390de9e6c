"""The service under concurrent clients and hostile images: a real ``faceguard serve``.

Usage: python bench/bench_service.py [--clients 50] [--seconds 60] [--baseline-seconds 15]
[--no-huge] [--json] [--workers N [--kills K]] [--database postgresql://HOST]

Starts ``faceguard serve`` (a subprocess on the loopback address) on a fresh data directory
that may go live at once (``service_harness.prepare``), enrolls a few LFW people through the
API (``$FACEGUARD_FACES`` or ``../shared/data/faces``), then runs the same mix of requests
twice, measured in the same run: one client alone (the baseline), then ``--clients`` clients
at once, each over its own keep-alive connection:

- verify (a seeded person's other picture) and identify (a seeded person's picture);
- enroll: a consent for a new external ID, then its enrollment with an LFW picture;
- about one request in eight carries a hostile image instead: tiny (a 2x200 grey JPEG, a 1x1
  PNG), huge (a 16-bit PNG of 11999x3333 pixels, a JPEG declaring 30000x30000), or broken
  (a truncated JPEG, random bytes, random bytes behind a JPEG signature).

It reports the answers by status, every 5xx, every dropped connection (a transport error or
a time-out), throughput and the p50/p99 latency of each phase and their ratios, the peak
resident memory of the server process, and checks that every acknowledged enrollment (201)
is there afterwards (the people list through the API, with their template counts).
Exit status 1 when a 5xx, a dropped connection or a missing enrollment occurred.

``--database postgresql://user@host:port`` runs the service on a fresh PostgreSQL database
made on that server for the run (and dropped after it) instead of the SQLite file.
``--workers N`` (N > 1) compares, in the same run, ``serve --workers 1`` and ``serve --workers
N`` on the same store under ``--clients`` clients for ``--seconds`` each (the one-client phase
is left out); with ``--kills K`` a random worker of the N is killed with SIGKILL K times
during the N-worker phase (the supervisor starts it again): requests the killed worker held
are counted apart (``killed_in_flight``), not as dropped; afterwards every acknowledged
enrollment must be there and ``faceguard audit verify`` must pass.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_harness import (  # noqa: E402
    MASTER_KEY_VARIABLES,
    PURPOSES,
    broken_images,
    faces_dir,
    fresh_database,
    huge_images,
    lfw_people,
    peak_rss_bytes,
    prepare,
    serve,
    server_env,
    tiny_images,
    tree_peak_rss_bytes,
)

PURPOSE = PURPOSES[0]
API = f"/api/v1/purposes/{PURPOSE}"
HOSTILE_SHARE = 1 / 8
REQUEST_TIMEOUT = 300.0
DROP_PAUSE = 1.0


@dataclass(frozen=True)
class Seeded:
    external_id: str
    probe: bytes


@dataclass
class Workload:
    """What the clients send: keys, seeded people, pictures to enroll, hostile images."""

    base: str
    secrets: dict[str, str]
    seeded: list[Seeded]
    pictures: list[bytes]
    hostile: dict[str, bytes]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}


@dataclass
class Tally:
    """Every answer of a phase; shared by its client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    #: external ID -> (subject ID, templates) of every 201 enrollment
    acknowledged: dict[str, tuple[str, int]] = field(default_factory=dict)
    elapsed: float = 0.0

    def answer(self, kind: str, started: float, response: httpx.Response) -> None:
        took = time.perf_counter() - started
        with self.lock:
            self.latencies.append(took)
            self.statuses[f"{kind} {response.status_code}"] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{kind}: {response.status_code} "
                                          f"{response.text[:300]}")

    def drop(self, kind: str, exc: Exception) -> None:
        with self.lock:
            self.dropped.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)
        return {
            "requests": count, "seconds": round(self.elapsed, 2),
            "throughput_per_s": round(count / self.elapsed, 2) if self.elapsed else 0.0,
            "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
            "p99_ms": round(ordered[min(count - 1, int(count * 0.99))] * 1000, 1)
            if ordered else None,
            "enrolled": len(self.acknowledged), "server_errors": len(self.server_errors),
            "dropped": len(self.dropped), "statuses": dict(sorted(self.statuses.items())),
        }


def post(client: httpx.Client, tally: Tally, kind: str, url: str,
         **kwargs: Any) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = client.post(url, **kwargs)
    except httpx.TransportError as exc:  # refused, reset, closed early, timed out
        tally.drop(kind, exc)
        time.sleep(DROP_PAUSE)  # a dead server is not hammered for the rest of the phase
        return None
    tally.answer(kind, started, response)
    return response


def consent(client: httpx.Client, work: Workload, tally: Tally, external_id: str) -> bool:
    answer = post(client, tally, "consent", "/api/v1/consents", headers=work.auth("operator"),
                  json={"external_id": external_id, "name": f"Person {external_id}",
                        "purpose": PURPOSE, "method": "written", "evidence": "bench form"})
    return answer is not None and answer.status_code == 201


def enroll(client: httpx.Client, work: Workload, tally: Tally, external_id: str,
           image: bytes, kind: str = "enroll") -> bool:
    if not consent(client, work, tally, external_id):
        return False
    answer = post(client, tally, kind, f"{API}/enrollments", headers=work.auth("operator"),
                  data={"external_id": external_id}, files={"image": ("face.jpg", image)})
    if answer is None or answer.status_code != 201:
        return False
    body = answer.json()
    with tally.lock:
        tally.acknowledged[external_id] = (body["subject_id"], len(body["template_ids"]))
    return True


def one_request(client: httpx.Client, work: Workload, tally: Tally, rng: random.Random,
                new_id: str) -> None:
    """One request (two for an enrollment: its consent first) of the mix."""
    hostile = rng.random() < HOSTILE_SHARE
    name, image = rng.choice(sorted(work.hostile.items())) if hostile else ("", b"")
    roll = rng.random()
    person = rng.choice(work.seeded)
    terminal = work.auth("terminal")
    if roll < 0.4:
        post(client, tally, f"verify{' ' + name if hostile else ''}", f"{API}/verifications",
             headers=terminal, data={"external_id": person.external_id},
             files={"image": ("probe.jpg", image if hostile else person.probe)})
    elif roll < 0.8:
        post(client, tally, f"identify{' ' + name if hostile else ''}",
             f"{API}/identifications", headers=terminal,
             files={"image": ("probe.jpg", image if hostile else person.probe)})
    else:
        enroll(client, work, tally, new_id, image if hostile else rng.choice(work.pictures),
               kind=f"enroll{' ' + name if hostile else ''}")


def run_phase(work: Workload, clients: int, seconds: float, seed: int = 1) -> Tally:
    """``clients`` threads, each with its own connection, sending the mix for ``seconds``
    (each finishes the request it is in); ``elapsed`` runs until the last one ends."""
    tally = Tally()
    stop_at = time.monotonic() + seconds

    def client_loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with httpx.Client(base_url=work.base, timeout=REQUEST_TIMEOUT) as client:
            count = 0
            while time.monotonic() < stop_at:
                count += 1
                one_request(client, work, tally, rng, f"s{seed}-c{index}-{count}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.perf_counter() - started
    return tally


def seed_people(base: str, secrets: dict[str, str], people: list[list[bytes]],
                count: int) -> tuple[list[Seeded], Tally]:
    """Enroll up to ``count`` people (first picture) through the API, one at a time."""
    work = Workload(base, secrets, [], [], {})
    tally = Tally()
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        for number, pictures in enumerate(people[:count]):
            external_id = f"seed-{number}"
            if enroll(client, work, tally, external_id, pictures[0]):
                work.seeded.append(Seeded(external_id, pictures[1]))
    if not work.seeded:
        raise RuntimeError(f"no seeded enrollment succeeded: {tally.summary()}")
    return work.seeded, tally


def missing_enrollments(base: str, secrets: dict[str, str],
                        acknowledged: dict[str, tuple[str, int]]) -> list[str]:
    """Acknowledged enrollments the people list does not show (with as many templates)."""
    held: dict[str, tuple[str, int]] = {}
    headers = {"Authorization": f"Bearer {secrets['operator']}"}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        page, pages = 1, 1
        while page <= pages:
            listed = client.get("/subjects.json", params={"page": page}, headers=headers)
            listed.raise_for_status()
            body = listed.json()
            pages = body["pages"]
            for row in body["subjects"]:
                held[row["external_id"]] = (row["subject_id"], row["templates"])
            page += 1
    return [f"{external_id}: acknowledged {want}, held {held.get(external_id)}"
            for external_id, want in sorted(acknowledged.items())
            if held.get(external_id) != want]


def hostile_images(faces: list[list[bytes]], *, huge: bool) -> dict[str, bytes]:
    images = {**tiny_images(), **broken_images(faces[0][0])}
    return {**images, **huge_images()} if huge else images


def run(args: argparse.Namespace, faces: Path, folder: Path) -> dict[str, Any]:
    people = lfw_people(faces, args.seed_people + 40)
    secrets = prepare(folder / "data")
    report: dict[str, Any] = {"clients": args.clients}
    env = {"FACEGUARD_SERVICE_PAGE_SIZE": "500"}
    options = () if args.face_workers is None else ("--face-workers", str(args.face_workers))
    with serve(folder / "data", env=env, options=options) as server:
        seeded, seeding = seed_people(server.base, secrets, people, args.seed_people)
        work = Workload(server.base, secrets, seeded,
                        [p[0] for p in people[args.seed_people:]],
                        hostile_images(people, huge=not args.no_huge))
        one = run_phase(work, 1, args.baseline_seconds, seed=1)
        many = run_phase(work, args.clients, args.seconds, seed=2)
        acknowledged = {**seeding.acknowledged, **one.acknowledged, **many.acknowledged}
        peak = peak_rss_bytes(server.pid)
        tree = tree_peak_rss_bytes(server.pid)
        died = server.process.poll()
        if died is None:
            missing = missing_enrollments(server.base, secrets, acknowledged)
        else:
            missing = [f"the server process died ({died}); none of the {len(acknowledged)} "
                       "acknowledged enrollments could be checked"]
        report.update({
            "seeded": len(seeded), "one_client": one.summary(),
            "many_clients": many.summary(),
            "acknowledged_enrollments": len(acknowledged), "missing_enrollments": missing,
            "server_errors": seeding.server_errors + one.server_errors + many.server_errors,
            "dropped": seeding.dropped + one.dropped + many.dropped,
            "peak_rss_mb": round(peak / 2**20, 1) if peak else None,
            "tree_peak_rss_mb": round(tree[0] / 2**20, 1) if tree else None,
            "processes": tree[1] if tree else None,
        })
        if one.elapsed and many.elapsed and one.latencies and many.latencies:
            o, m = report["one_client"], report["many_clients"]
            report["ratios"] = {
                "throughput_many_over_one": round(m["throughput_per_s"]
                                                  / max(o["throughput_per_s"], 1e-9), 2),
                "p50_many_over_one": round(m["p50_ms"] / o["p50_ms"], 2),
                "p99_many_over_one": round(m["p99_ms"] / o["p99_ms"], 2)}
    return report


def worker_pids(supervisor: int) -> list[int]:
    """The service workers a ``serve --workers`` supervisor started (its children)."""
    try:
        text = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def killer(supervisor: int, kills: int, seconds: float, log: list[str]) -> threading.Thread:
    """A thread that SIGKILLs a random worker ``kills`` times, spread over ``seconds``."""
    rng = random.Random(7)

    def loop() -> None:
        for number in range(kills):
            time.sleep(seconds / (kills + 1) * rng.uniform(0.6, 1.4))
            pids = worker_pids(supervisor)
            if pids:
                victim = rng.choice(pids)
                os.kill(victim, signal.SIGKILL)
                log.append(f"{time.strftime('%H:%M:%S')} kill {number + 1}: worker {victim}")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def run_workers(args: argparse.Namespace, faces: Path, folder: Path) -> dict[str, Any]:
    """``serve --workers 1`` then ``serve --workers N`` on one store, the same load."""
    people = lfw_people(faces, args.seed_people + 40)
    secrets = prepare(folder / "data")
    env = {"FACEGUARD_SERVICE_PAGE_SIZE": "500"}
    report: dict[str, Any] = {"clients": args.clients, "workers": args.workers,
                              "database": "postgresql" if args.database else "sqlite"}
    acknowledged: dict[str, tuple[str, int]] = {}
    errors: list[str] = []
    dropped: list[str] = []
    seeded: list[Seeded] = []
    for workers in (1, args.workers):
        options = ("--workers", str(workers))
        with serve(folder / "data", env=env, options=options) as server:
            if not seeded:
                seeded, seeding = seed_people(server.base, secrets, people, args.seed_people)
                acknowledged.update(seeding.acknowledged)
            work = Workload(server.base, secrets, seeded,
                            [p[0] for p in people[args.seed_people:]],
                            hostile_images(people, huge=not args.no_huge))
            kills: list[str] = []
            if workers > 1 and args.kills:
                killer(server.pid, args.kills, args.seconds, kills)
            tally = run_phase(work, args.clients, args.seconds, seed=workers + 1)
            acknowledged.update(tally.acknowledged)
            errors += tally.server_errors
            name = "one_worker" if workers == 1 else "n_workers"
            report[name] = tally.summary()
            if kills:
                report["kills"] = kills
                report["killed_in_flight"] = len(tally.dropped)  # requests on a killed worker
            else:
                dropped += tally.dropped
            report["missing_enrollments"] = missing_enrollments(server.base, secrets,
                                                                acknowledged)
    report.update({"server_errors": errors, "dropped": dropped,
                   "acknowledged_enrollments": len(acknowledged)})
    audit = subprocess.run([sys.executable, "-m", "faceguard", "--data", str(folder / "data"),
                            "audit", "verify", "--json"], capture_output=True, text=True,
                           env=server_env())
    report["audit_verify"] = json.loads(audit.stdout) if audit.returncode in (0, 1) else \
        {"ok": False, "error": audit.stderr[-500:]}
    one, many = report["one_worker"], report["n_workers"]
    report["ratios"] = {"throughput_n_over_one": round(
        many["throughput_per_s"] / max(one["throughput_per_s"], 1e-9), 2)}
    return report


def show_workers(report: dict[str, Any]) -> None:
    for name, workers in (("one_worker", 1), ("n_workers", report["workers"])):
        phase = report[name]
        print(f"{workers} worker(s), {report['clients']} clients, {report['database']}: "
              f"{phase['requests']} requests in {phase['seconds']} s, "
              f"{phase['throughput_per_s']}/s, p50 {phase['p50_ms']} ms, "
              f"p99 {phase['p99_ms']} ms, {phase['enrolled']} enrolled")
        for status, count in phase["statuses"].items():
            print(f"      {status:40s} {count}")
    print(f"throughput {report['workers']} workers / 1: "
          f"{report['ratios']['throughput_n_over_one']}x")
    for line in report.get("kills", []):
        print(f"  {line}")
    if "kills" in report:
        print(f"requests in flight on a killed worker: {report['killed_in_flight']}")
    show_losses(report)
    print(f"audit verify: "
          f"{'ok' if report['audit_verify'].get('ok') else report['audit_verify']}")


@contextmanager
def database(server: str | None) -> Iterator[None]:
    """A fresh PostgreSQL database on ``server`` for the run (``service_harness.
    fresh_database``), named to the service by ``FACEGUARD_DATABASE_URL``; nothing without a
    server."""
    with fresh_database(server, "service") as url:
        if url is None:
            yield
            return
        os.environ["FACEGUARD_DATABASE_URL"] = url
        try:
            yield
        finally:
            os.environ.pop("FACEGUARD_DATABASE_URL", None)


def show(report: dict[str, Any]) -> None:
    for name in ("one_client", "many_clients"):
        phase = report[name]
        clients = 1 if name == "one_client" else report["clients"]
        print(f"{clients:3d} client(s): {phase['requests']} requests in {phase['seconds']} s, "
              f"{phase['throughput_per_s']}/s, p50 {phase['p50_ms']} ms, "
              f"p99 {phase['p99_ms']} ms, {phase['enrolled']} enrolled")
        for status, count in phase["statuses"].items():
            print(f"      {status:40s} {count}")
    if "ratios" in report:
        r = report["ratios"]
        print(f"ratios {report['clients']} clients / 1 client: throughput "
              f"{r['throughput_many_over_one']}x, p50 {r['p50_many_over_one']}x, "
              f"p99 {r['p99_many_over_one']}x")
    print(f"server peak RSS: {report['peak_rss_mb']} MB; with its face workers: "
          f"{report['tree_peak_rss_mb']} MB over {report['processes']} processes (sum of "
          "each one's peak)")
    show_losses(report)


def show_losses(report: dict[str, Any]) -> None:
    """The 5xx, dropped connections and missing enrollments, with the first of them."""
    print(f"5xx: {len(report['server_errors'])}, dropped connections: "
          f"{len(report['dropped'])}, acknowledged enrollments: "
          f"{report['acknowledged_enrollments']}, missing afterwards: "
          f"{len(report['missing_enrollments'])}")
    for line in (report["server_errors"] + report["dropped"]
                 + report["missing_enrollments"])[:20]:
        print(f"  {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=15.0,
                        help="length of the one-client phase")
    parser.add_argument("--seed-people", type=int, default=20)
    parser.add_argument("--no-huge", action="store_true", help="leave out the huge images")
    parser.add_argument("--face-workers", type=int, default=None,
                        help="passed to faceguard serve (default: its own, one per core)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--workers", type=int, default=1,
                        help="compare serve --workers 1 with --workers N (N > 1)")
    parser.add_argument("--kills", type=int, default=0,
                        help="SIGKILL a random worker this many times in the N-worker phase")
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL server URL: run on a fresh database made there")
    args = parser.parse_args()
    faces = faces_dir()
    if faces is None:
        print("real face images not found: set FACEGUARD_FACES or place them in "
              "../shared/data/faces", file=sys.stderr)
        return 2
    for name in MASTER_KEY_VARIABLES:
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="bench-service-") as folder, \
            database(args.database):
        report = (run_workers if args.workers > 1 else run)(args, faces, Path(folder))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        (show_workers if args.workers > 1 else show)(report)
    failed = report["server_errors"] or report["dropped"] or report["missing_enrollments"]
    failed = failed or not report.get("audit_verify", {"ok": True}).get("ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
