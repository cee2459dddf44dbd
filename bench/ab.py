"""A/B two versions of idgw under the same load, in alternating rounds, to tell a real speed-up
from machine noise (which on a shared 2-core machine moves single runs by ±30%).

    .venv/bin/python bench/ab.py A_DIR B_DIR [--metrics token,refresh] [--rounds 6] [--database sqlite]

A_DIR and B_DIR each hold an ``idgw`` package (e.g. ``git worktree add /tmp/a HEAD~1``; ``.`` is the
working tree). Both servers run at once on their own database; each round measures A then B (or
B then A, alternating) and the medians of requests/s and server CPU per operation are printed
with the B/A ratio. Loopback only; every process started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench.oidc_bench as ob  # noqa: E402


async def run(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="idgw-ab-"))
    targets: dict[str, ob.Target] = {}
    pg = None
    try:
        if args.database == "postgresql":
            from bench.pg import PostgresServer, postmaster_pid

            pg = PostgresServer()
            pg.start()
        for label, src in (("A", args.a), ("B", args.b)):
            if pg is not None:
                url, db_pid = pg.create_database(), postmaster_pid(pg)
            else:
                url, db_pid = f"sqlite:///{work}/{label}.db", None
            t = await ob.start_idgw(f"idgw-{label}", url, workers=args.workers, logdir=work,
                                    source=str(Path(src).resolve()), db_pid=db_pid)
            targets[label] = t
            await ob.make_sessions(t, ob.N_USERS)
        plan = ob.Plan(token_codes=args.codes, refresh_seconds=args.seconds, login_seconds=args.seconds,
                       get_seconds=args.seconds)
        for metric in args.metrics:
            rates: dict[str, list[float]] = {"A": [], "B": []}
            cpu: dict[str, list[float]] = {"A": [], "B": []}
            for rnd in range(args.rounds):
                for label in ("A", "B") if rnd % 2 == 0 else ("B", "A"):
                    out = await ob.measure_throughput(metric, targets[label], plan)
                    if out.errors:
                        print(f"  {label} {metric}: {out.errors} errors, first: {out.first_error}")
                    rates[label].append(out.rate)
                    if out.cpu_ms is not None:
                        cpu[label].append(out.cpu_ms)
            r = {k: statistics.median(v) for k, v in rates.items()}
            c = {k: statistics.median(v) if v else float("nan") for k, v in cpu.items()}
            print(f"{metric:14s} A {r['A']:7.1f}/s {c['A']:.3f} ms cpu   B {r['B']:7.1f}/s {c['B']:.3f} ms cpu   "
                  f"B/A rate {r['B'] / r['A']:.3f}  cpu {c['B'] / c['A']:.3f}   "
                  f"rounds A {[round(x) for x in rates['A']]} B {[round(x) for x in rates['B']]}")
    finally:
        for t in targets.values():
            t.process.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--metrics", default="token,refresh")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--codes", type=int, default=600, help="code exchanges per token round")
    p.add_argument("--seconds", type=float, default=2.5, help="length of the other rounds")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args()
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if unknown := set(args.metrics) - set(ob.THROUGHPUT):
        p.error(f"unknown metrics: {', '.join(sorted(unknown))}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
