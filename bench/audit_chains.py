"""How many audited transactions a second one PostgreSQL takes, by the number of audit chains.

Every transaction that records an audit event appends it to one hash chain under a lock on that
chain's head row (``idgw.audit.chain``), and holds the lock until its COMMIT is on disk. So one
chain takes its writers one at a time, and the time one append holds the head (its round trips
and the commit's flush) caps what a chain can take, whatever the number of gateways. This runs
writer processes (each with several threads, one transaction and one ``token.issued`` event each,
as a token request records) against a throw-away PostgreSQL whose commits wait for the disk
(``fsync=on``, as in production; the other benchmarks run without), once per chain count, and
prints the transactions per second, the time one commit takes (which is how long the head is
held) and the cap that implies per chain.

Run: .venv/bin/python bench/audit_chains.py [--chains 1,4,16] [--processes 2] [--threads 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.pg import PostgresServer, available  # noqa: E402

WRITER = textwrap.dedent("""
    import json, sys, threading, time
    from idgw import audit
    from idgw.audit import chain
    from idgw.storage.db import make_engine, make_sessionmaker

    url, chains, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    engine = make_engine(url, threads=threads)
    chain.configure(engine, chains)
    sm = make_sessionmaker(engine)
    commits, held = [0] * threads, [[] for _ in range(threads)]
    start = time.monotonic()
    stop = start + seconds

    def work(t):
        i = 0
        while time.monotonic() < stop:
            with sm() as db:
                audit.record(db, "token.issued", at=1_800_000_000 + i, actor=f"a{t}", client_id="svc", refresh=True)
                began = time.perf_counter()
                db.commit()  # the head is locked, the event inserted, and the COMMIT flushed here
                held[t].append(time.perf_counter() - began)
            commits[t] += 1
            i += 1

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    print(json.dumps({"commits": sum(commits), "seconds": time.monotonic() - start,
                      "held": [x for h in held for x in h]}))
""")


def measure(url: str, *, chains: int, processes: int, threads: int, seconds: float) -> dict:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(chains), str(threads), str(seconds)],  # noqa: S603
                              cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [json.loads(p.communicate(timeout=seconds + 120)[0]) for p in procs]
    held = [x for r in results for x in r["held"]]
    return {"chains": chains, "rate": sum(r["commits"] / r["seconds"] for r in results),
            "commit_ms": 1000 * statistics.median(held), "commit_p95_ms": 1000 * statistics.quantiles(held, n=20)[18]}


def solo_commit_ms(url: str, seconds: float) -> float:
    """One writer alone: how long an append holds its chain's head when nobody waits for it."""
    return measure(url, chains=1, processes=1, threads=1, seconds=seconds)["commit_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", default="1,4,16")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    if not available():
        sys.exit("PostgreSQL's initdb and pg_ctl are needed (Debian package postgresql)")
    from tests.conftest import migrated

    pg = PostgresServer(durable=True)
    pg.start()
    try:
        url = pg.create_database()
        migrated(url)
        solo = solo_commit_ms(url, args.seconds)
        print(f"one writer alone: a commit with its append holds the head {solo:.2f} ms "
              f"-> at most {1000 / solo:,.0f} appends/s per chain on loopback")
        for n in (int(c) for c in args.chains.split(",")):
            r = measure(url, chains=n, processes=args.processes, threads=args.threads, seconds=args.seconds)
            print(f"chains {n:3d}: {r['rate']:7,.0f} audited transactions/s with {args.processes}x{args.threads} "
                  f"writers; commit p50 {r['commit_ms']:.2f} ms, p95 {r['commit_p95_ms']:.2f} ms")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
