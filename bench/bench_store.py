"""Record-store figures: audit appends and chain verification, index start-up, index memory.

Usage: python bench/bench_store.py [--templates 100000] [--events 3000] [--threads 64] [--json]
[--database postgresql://user@host:port]

Runs in a temporary data directory with a real SQLite file and real encryption (or, with
``--database``, on a fresh PostgreSQL database made on that server and dropped afterwards). Template
vectors are random (the face engine is beside the point here). Printed, each with a baseline
measured in the same process:
- audit events committed one by one per second, against plain inserts of the same rows;
- audit events per second with group commit from many threads, against one by one;
- audit events per second appended by one writer in one transaction (``AuditLog.batch``);
- chain verification in events per second;
- loading N encrypted templates into an index partition, against reading the same rows
  without decrypting them; index bytes against the raw template bytes; the resident memory
  the loaded index added to the process (what each worker holds).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_harness import fresh_database

from faceguard import db
from faceguard.consent.records import publish_notice
from faceguard.index.partition import Partition
from faceguard.store.core import Store
from faceguard.timeutil import iso, utc_now
from faceguard.vault.keys import new_master_key, record_aad, seal
from faceguard.vault.templates import new_id


def _event(store: Store, conn: sa.Connection) -> int:
    return store.audit.append(conn, actor="bench", operation="face.verified", outcome="match",
                              purpose="attendance", subject="s_x", rules=["R1", "R3"],
                              detail={"operating_point": "access-control"})


def bench_audit(store: Store, events: int, threads: int) -> dict[str, float]:
    plain = sa.Table("plain_events", sa.MetaData(), *[
        sa.Column(c.name, c.type, primary_key=c.primary_key) for c in db.audit_events.columns])
    plain.create(store.records)
    insert = plain.insert()
    start = time.perf_counter()
    for i in range(events):
        with store.records.begin() as conn:
            conn.execute(insert, {
                "seq": i + 1, "ts": iso(utc_now()), "actor": "bench",
                "operation": "face.verified", "purpose": "attendance", "subject": "s_x",
                "outcome": "match", "rules": "[]", "detail": "{}", "prev_hash": "0" * 64,
                "hash": "0" * 64})
    t_plain = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(events):
        with store.records.begin() as conn:
            _event(store, conn)
    t_audit = time.perf_counter() - start

    # Group commit: ``threads`` concurrent operations, each answered once its event is durable.
    per_thread = max(1, 10 * events // threads)
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        for _ in range(per_thread):
            store.commit(lambda conn: _event(store, conn))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    groups_before, jobs_before = store.group.groups, store.group.jobs
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    t_group = time.perf_counter() - start
    grouped = store.group.jobs - jobs_before
    assert grouped == threads * per_thread
    # One writer with many events at once: one transaction, one head signature.
    start = time.perf_counter()
    with store.records.begin() as conn, store.audit.batch(conn):
        for _ in range(events):
            _event(store, conn)
    t_batch = time.perf_counter() - start
    start = time.perf_counter()
    report = store.audit.verify()
    t_verify = time.perf_counter() - start
    assert report.ok
    return {"events": events, "plain_inserts_per_s": events / t_plain,
            "audit_appends_per_s": events / t_audit, "audit_vs_plain": t_plain / t_audit,
            "group_threads": threads, "group_events": grouped,
            "group_events_per_s": grouped / t_group,
            "group_vs_one_by_one": (grouped / t_group) / (events / t_audit),
            "events_per_commit": grouped / (store.group.groups - groups_before),
            "batch_events_per_s": events / t_batch,
            "verified_events": report.events,
            "verify_events_per_s": report.events / t_verify}


def fill(store: Store, templates: int) -> np.ndarray:
    """``templates`` people with an active consent and one encrypted template each, written
    in bulk in the product's own formats (data key wrapped by the keyring, identity and
    template sealed with the person's key and bound to their IDs). Returns the vectors."""
    rng = np.random.default_rng(0)
    with store.records.begin() as conn:
        notice = publish_notice(conn, "attendance", {
            k: "x" for k in ("controller", "contact", "method", "retention", "necessity",
                             "impact", "rights")} | {"purpose": "attendance"})
    now = iso(utc_now())
    expires = iso(utc_now().replace(year=utc_now().year + 1))
    vectors = rng.normal(0, 0.1, (templates, 128)).astype(np.float32)
    for start in range(0, templates, 10000):
        keys, subjects, consents, rows = [], [], [], []
        for i in range(start, min(start + 10000, templates)):
            subject, template = new_id("s"), new_id("t")
            key, wrapped = store.keyring.new_data_key(subject)
            aead = AESGCM(key)
            keys.append({"subject_id": subject, "wrapped_key": wrapped, "created_at": now})
            subjects.append({
                "id": subject, "lookup_hash": store.keyring.lookup_hash(f"p{i}"),
                "identity_ct": seal(aead, json.dumps({"external_id": f"p{i}",
                                                      "name": f"P {i}"}).encode(),
                                    record_aad(b"identity", subject)),
                "status": "active", "created_at": now})
            consents.append({
                "subject_id": subject, "purpose": "attendance", "notice_id": notice.id,
                "notice_sha256": notice.sha256, "method": "click", "evidence_ref": "bench",
                "minor": False, "status": "active", "granted_at": now})
            rows.append({
                "id": template, "subject_id": subject, "purpose": "attendance",
                "engine": "bench", "created_at": now, "expires_at": expires,
                "ciphertext": seal(aead, vectors[i].astype("<f4").tobytes(),
                                   record_aad(b"template", subject, template, "bench"))})
        with store.keys.begin() as kconn:
            kconn.execute(db.subject_keys.insert(), keys)
        with store.records.begin() as conn:
            conn.execute(db.subjects.insert(), subjects)
            conn.execute(db.consents.insert(), consents)
            conn.execute(db.templates.insert(), rows)
    return vectors


def bench_load(store: Store, templates: int) -> dict[str, float]:
    vectors = fill(store, templates)
    start = time.perf_counter()
    with store.records.connect() as conn:
        rows = conn.execute(sa.select(db.templates.c.ciphertext)).fetchall()
    t_read = time.perf_counter() - start
    gc.collect()
    rss_before = _rss()
    start = time.perf_counter()
    with store.records.connect() as conn:
        subjects, ids, _, matrix = store.vault.load_partition(conn, "attendance", iso(utc_now()),
                                                              128)
    part = Partition(128, "bench")
    part.add_many(subjects, ids, matrix)
    t_load = time.perf_counter() - start
    assert matrix.shape == vectors.shape  # every template opened, and opened right:
    assert np.array_equal(np.sort(matrix[:, 0]), np.sort(vectors[:, 0]))
    raw = len(rows) * 128 * 4
    del rows, matrix, subjects, ids
    gc.collect()
    held = _rss() - rss_before
    return {"templates": templates, "read_rows_s": t_read, "load_s": t_load,
            "worker_rss_added_mb": held / 2**20,
            "load_vs_read": t_load / t_read, "index_bytes_over_raw": part.nbytes / raw,
            "index_deep_bytes_over_raw": deep_size(part) / raw}


def _rss() -> int:
    """This process's resident memory now, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def deep_size(root: object) -> int:
    """Every byte ``root`` holds: its arrays' buffers and every Python object reachable from
    it (the ID strings, lists and dictionaries too), each counted once."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, np.ndarray):
            if obj.base is not None:  # a view: count what it views
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=64,
                    help="concurrent operations for the group-commit figure")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--database", default=None,
                    help="a PostgreSQL server URL: run on a fresh database made there")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder, \
            fresh_database(args.database, "store") as url:
        store = Store.open(Path(folder), new_master_key(), url=url)
        audit = bench_audit(store, args.events, args.threads)
        load = bench_load(store, args.templates)
        store.close()
    result = {"database": "postgresql" if args.database else "sqlite", "audit": audit,
              "index_startup": load}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"audit: {audit['audit_appends_per_s']:.0f} events/s committed one by one "
          f"(plain inserts {audit['plain_inserts_per_s']:.0f}/s, ratio "
          f"{audit['audit_vs_plain']:.2f})")
    print(f"audit, group commit: {audit['group_events_per_s']:.0f} events/s from "
          f"{audit['group_threads']} threads ({audit['group_vs_one_by_one']:.1f}x one by one, "
          f"{audit['events_per_commit']:.1f} events per commit)")
    print(f"audit, one writer's batch: {audit['batch_events_per_s']:.0f} events/s")
    print(f"chain verification: {audit['verify_events_per_s']:.0f} events/s "
          f"({audit['verified_events']:,} events)")
    print(f"index start-up: {load['templates']:,} templates in {load['load_s']:.2f} s "
          f"(reading the rows alone {load['read_rows_s']:.2f} s, ratio "
          f"{load['load_vs_read']:.1f}); index arrays {load['index_bytes_over_raw']:.2f}x raw "
          f"bytes, everything the index holds {load['index_deep_bytes_over_raw']:.2f}x; "
          f"resident memory it added: {load['worker_rss_added_mb']:.0f} MB "
          f"({result['database']})")


if __name__ == "__main__":
    main()
