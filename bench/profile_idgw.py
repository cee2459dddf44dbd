"""Where idgw spends its time under one benchmark load: py-spy samples the `idgw serve` process
while bench/oidc_bench.py's generator drives one metric, then prints the functions with the most
inclusive and self time (collapsed stacks are kept for flame graphs).

Run: .venv/bin/python bench/profile_idgw.py token [--database sqlite|postgresql] [--seconds 8]
Metrics: discovery jwks token refresh login_session login_password.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench.oidc_bench as ob  # noqa: E402


def _package(frame: str) -> str:
    """'Session.get (sqlalchemy/orm/session.py:3934)' -> 'sqlalchemy'; stdlib modules by file."""
    where = frame.rpartition("(")[2].rstrip(")").rpartition(":")[0]
    parts = where.split("/")
    return parts[0] if len(parts) > 1 else f"stdlib {where}"


def summarise(collapsed: Path, top: int) -> str:
    inclusive: collections.Counter = collections.Counter()
    self_time: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():  # a line cut short when py-spy was stopped
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for f in set(frames):
            inclusive[f] += n
        self_time[frames[-1]] += n
    by_package: collections.Counter = collections.Counter()
    for frame, n in self_time.items():
        by_package[_package(frame)] += n
    out = [f"{total} samples", "", "self time by package:"]
    out += [f"  {100 * n / total:5.1f}%  {p}" for p, n in by_package.most_common(15)]
    out += ["", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_time.most_common(top)]
    return "\n".join(out)


async def run(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="idgw-profile-"))
    pg = None
    target = None
    try:
        if args.database == "postgresql":
            from bench.pg import PostgresServer

            pg = PostgresServer()
            pg.start()
            url = pg.create_database()
        else:
            url = f"sqlite:///{work}/idgw.db"
        target = await ob.start_idgw("idgw", url, workers=1, logdir=work)
        await ob.make_sessions(target, ob.N_USERS)
        plan = ob.Plan(get_seconds=args.seconds, refresh_seconds=args.seconds, login_seconds=args.seconds,
                       token_codes=args.codes)
        if args.metric == "refresh":
            await ob.measure_throughput("token", target, ob.Plan(token_codes=200))
        if args.metric == "token":
            # Codes first (not profiled), then only the token calls under py-spy.
            codes = await ob.make_codes(target, args.codes, workers=plan.workers, seconds=120)

            async def tok(conn, i):
                await ob.exchange(target, conn, *codes[i])

            load = ob.closed_loop(tok, workers=plan.workers, max_count=len(codes), seconds=120,
                                  connect=ob.conn_factory(target))
        else:
            load = ob.measure_throughput(args.metric, target, plan)
        collapsed = work / "profile.txt"
        py_spy = str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            py_spy = shutil.which("py-spy") or py_spy
        rate = os.environ.get("SPY_RATE", "250")  # samples per second
        spy = subprocess.Popen([py_spy, "record",  # noqa: S603
                                "--pid", str(target.process.proc.pid), "--rate", rate, "--format", "raw",
                                "--output", str(collapsed), "--nonblocking", *(["--idle"] if args.idle else ["--gil"])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
        t0 = time.perf_counter()
        out = await load
        elapsed = time.perf_counter() - t0
        spy.send_signal(2)
        spy.wait(timeout=30)
        print(f"{args.metric}: {out.count} in {elapsed:.1f} s = {out.rate:.1f}/s, {out.errors} errors")
        print(summarise(collapsed, args.top))
        if args.keep:
            shutil.copy(collapsed, args.keep)
            print(f"collapsed stacks: {args.keep}")
    finally:
        if target is not None:
            target.process.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metric", choices=ob.THROUGHPUT)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--codes", type=int, default=1500)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--idle", action="store_true", help="count waiting threads too (default: only the "
                        "thread holding the GIL, i.e. where Python spends CPU)")
    parser.add_argument("--keep", help="copy the collapsed stacks here")
    parser.add_argument("--source", help="profile the idgw package in this directory")
    args = parser.parse_args()
    if args.source:
        ob.SOURCE = str(Path(args.source).resolve())
        os.environ["IDGW_BENCH_SOURCE"] = ob.SOURCE
        exec(ob.USE_SOURCE)  # noqa: S102 - as oidc_bench.py does
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
