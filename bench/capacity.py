"""Two capacity figures of `make bench` (bench/oidc_bench.py runs both in the same run as the rest):

password sign-ins per core
    How close a password sign-in comes to the cost it cannot avoid: one argon2id verification. The
    raw rate is PasswordHasher.verify at the gateway's own parameters (idgw.security.PASSWORD_HASHER),
    in this process, one thread, timed in CPU seconds of that thread. The gateway's rate per core is
    its login_password throughput divided by the cores it used while doing it (server CPU seconds
    over wall seconds, the database's backends included), i.e. 1000 / server CPU ms per sign-in.
    A whole sign-in is measured (authorize, password form, consent, code, token), as an e-service's
    user goes through it. Target 0.9x: everything around the hash may cost a ninth of it.

two instances against one
    Two `idgw serve` processes on one PostgreSQL database, behind no proxy: the load generator
    hands each new connection to the next instance in turn (round robin per connection, as an L4
    balancer does), so a sign-in's pages and its token call often land on different instances.
    The same load against one of them alone, in alternating rounds. One `idgw serve --workers 1`
    is one Python process that cannot use more than one core (the GIL), so on a machine with two
    cores that also runs the load generator and PostgreSQL a second instance gains only what the
    first leaves idle: about 1x to 1.2x here (server CPU per operation stays the same: scaling out
    costs nothing per operation). A machine with more cores scales with the instances until the
    database is the limit; docs/operations.md's capacity plan works from the per-core figures.

Dependencies (the bench's server starter, load shapes, Plan) are passed in as ``ob``, the running
bench/oidc_bench.py module, so that its settings (``--source``) hold for these servers too.
"""

from __future__ import annotations

import itertools
import statistics
import time

PASSWORD_PER_CORE_TARGET = 0.9


# -- password sign-ins per core ------------------------------------------------------------------------
def raw_argon2id(password: str, *, blocks: int = 5, per_block: int = 8) -> dict:
    """CPU milliseconds per PasswordHasher.verify at the gateway's parameters (median of ``blocks``)."""
    from idgw.security import PASSWORD_HASHER as hasher

    stored = hasher.hash(password)
    cpu_ms, wall_ms = [], []
    for _ in range(blocks):
        c0, w0 = time.thread_time(), time.perf_counter()
        for _ in range(per_block):
            hasher.verify(stored, password)
        cpu_ms.append((time.thread_time() - c0) * 1000 / per_block)
        wall_ms.append((time.perf_counter() - w0) * 1000 / per_block)
    per_verify = statistics.median(cpu_ms)
    return {"parameters": {"type": "argon2id", "time_cost": hasher.time_cost,
                           "memory_cost_kib": hasher.memory_cost, "parallelism": hasher.parallelism},
            "verifies": blocks * per_block,
            "cpu_ms_per_verify": round(per_verify, 2),
            "wall_ms_per_verify": round(statistics.median(wall_ms), 2),
            "verifies_per_s_per_core": round(1000 / per_verify, 1)}


def password_per_core(throughput: dict, raw: dict, session: dict | None = None) -> dict | None:
    """``throughput``: the bench's login_password entry (median rate and server CPU ms per sign-in);
    ``session``: its login_session entry, the same sign-in without the password step, if measured."""
    cpu = throughput.get("cpu_ms_per_op", {})
    if not cpu.get("idgw"):
        return None
    per_core = 1000 / cpu["idgw"]
    out = {"logins_per_s": throughput["idgw"],
           "server_cpu_ms_per_login": cpu["idgw"],
           "cores_used": round(throughput["idgw"] * cpu["idgw"] / 1000, 2),
           "logins_per_s_per_core": round(per_core, 1),
           "raw_verifies_per_s_per_core": raw["verifies_per_s_per_core"],
           # What a sign-in costs beyond its one verification: the pages, the database, the tokens.
           "cpu_ms_beyond_the_hash": round(cpu["idgw"] - raw["cpu_ms_per_verify"], 2),
           "ratio": round(per_core / raw["verifies_per_s_per_core"], 3),
           "target": PASSWORD_PER_CORE_TARGET}
    if cpu.get("peer"):  # the peer hashes with the same parameters (node argon2, libargon2)
        out["peer_logins_per_s_per_core"] = round(1000 / cpu["peer"], 1)
        out["peer_ratio"] = round(1000 / cpu["peer"] / raw["verifies_per_s_per_core"], 3)
    session_cpu = ((session or {}).get("cpu_ms_per_op") or {}).get("idgw")
    if session_cpu and cpu["idgw"] > session_cpu:
        # The password step alone (form, check, throttles, new session) against its hash: which part
        # of the gap the password path owns, and which the pages and tokens every sign-in has.
        step = cpu["idgw"] - session_cpu
        out["password_step_cpu_ms"] = round(step, 2)
        out["password_step_ratio"] = round(raw["cpu_ms_per_verify"] / step, 3)
    return out


# -- two instances against one ---------------------------------------------------------------------------
class RoundRobin:
    """Quacks like oidc_bench.Target for measure_throughput: every new connection (every
    ``.port`` read) goes to the next instance; sessions and refresh tokens are shared, as the
    database they live in is."""

    def __init__(self, name: str, targets: list) -> None:
        self.name, self.targets = name, targets
        self._next = itertools.cycle(targets)
        first = targets[0]
        self.discovery, self.session_cookie_names = first.discovery, first.session_cookie_names
        self.sessions: list = first.sessions
        self.refresh_tokens: list = []
        self.cpu_roots = sorted({pid for t in targets for pid in t.cpu_roots})

    @property
    def port(self) -> int:
        return next(self._next).port

    def path(self, key: str) -> str:
        return self.targets[0].path(key)


TWO_INSTANCE_METRICS = ("token", "login_session")


async def two_instances(*, ob, url: str, plan, logdir, db_pid: int | None) -> dict:
    """Start two instances on the database at ``url`` (fresh), then alternate rounds of one instance
    alone and both behind RoundRobin, each metric under the same load."""
    one = await ob.start_idgw("idgw-pg-a", url, workers=1, logdir=logdir, db_pid=db_pid)
    started = [one.process]
    try:
        # The second instance serves the same issuer (as behind a balancer) and the same database,
        # already prepared: registering the client and users again would collide.
        other = await ob.start_idgw("idgw-pg-b", url, workers=1, logdir=logdir, db_pid=db_pid,
                                    issuer=f"http://{ob.HOST}:{one.port}", prepare=False)
        started.append(other.process)
        await ob.make_sessions(one, max(ob.N_USERS, plan.workers))
        # The idle instance's CPU counts for "one" too: it is part of what the deployment runs.
        one.cpu_roots = sorted({*one.cpu_roots, *other.cpu_roots})
        both = RoundRobin("two instances", [one, other])
        result = {}
        for metric in TWO_INSTANCE_METRICS:
            rates: dict[str, list[float]] = {"one": [], "two": []}
            cpu: dict[str, list[float]] = {"one": [], "two": []}
            errors = {"one": 0, "two": 0}
            first_errors: dict[str, str] = {}
            # CPU of each instance during the rounds of both: proof that the second one served.
            instance_cpu = [0.0, 0.0]
            for rnd in range(max(plan.rounds, 1)):
                order = (("one", one), ("two", both)) if rnd % 2 == 0 else (("two", both), ("one", one))
                for label, target in order:
                    before = [ob.cpu_seconds([t.process.proc.pid]) for t in (one, other)]
                    out = await ob.measure_throughput(metric, target, plan)
                    if label == "two":
                        for i, t in enumerate((one, other)):
                            instance_cpu[i] += ob.cpu_seconds([t.process.proc.pid]) - before[i]
                    rates[label].append(out.rate)
                    if out.cpu_ms is not None:
                        cpu[label].append(out.cpu_ms)
                    errors[label] += out.errors
                    if out.first_error:
                        first_errors.setdefault(label, out.first_error)
            med = {k: statistics.median(v) for k, v in rates.items()}
            ratio = med["two"] / med["one"] if med["one"] else float("nan")
            result[metric] = {"one": round(med["one"], 1), "two": round(med["two"], 1), "ratio": round(ratio, 3),
                              "cpu_ms_per_op": {k: round(statistics.median(v), 3) if v else None
                                                for k, v in cpu.items()},
                              "rounds": {k: [round(x, 1) for x in v] for k, v in rates.items()},
                              "second_instance_cpu_share": round(instance_cpu[1] / (sum(instance_cpu) or 1), 2),
                              "errors": errors, **({"first_errors": first_errors} if first_errors else {})}
            ob.log(f"  {metric:15s} two instances {med['two']:8.1f}  one {med['one']:8.1f} {ob.UNITS[metric]:9s} "
                   f"ratio {ratio:5.2f}  second instance's CPU share {result[metric]['second_instance_cpu_share']}  "
                   f"rounds two {[round(x) for x in rates['two']]} "
                   f"one {[round(x) for x in rates['one']]}"
                   + (f"  ERRORS {errors} {first_errors}" if any(errors.values()) else ""))
        return result
    finally:
        for process in started:
            process.stop()


def markdown_lines(report: dict) -> list[str]:
    lines = []
    per_core = {d: r["password_per_core"] for d, r in report["databases"].items() if r.get("password_per_core")}
    if per_core:
        p = next(iter(per_core.values()))["argon2id_raw"]["parameters"]
        lines += ["", f"Password sign-ins per core against raw argon2id at the gateway's parameters "
                      f"(m={p['memory_cost_kib'] // 1024} MiB, t={p['time_cost']}, p={p['parallelism']}; "
                      "PasswordHasher.verify on one thread, measured after each database's rounds). The password "
                      "step is a password sign-in's CPU less a session sign-in's, and its ratio the hash's share "
                      "of it:", "",
                  "| database | sign-ins/s | server CPU per sign-in | sign-ins/s/core | raw verify | "
                  "raw verifies/s/core | ratio | CPU beyond the hash | password step (ratio) | peer ratio | target |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for d, f in per_core.items():
            raw = f["argon2id_raw"]
            step = (f"{f['password_step_cpu_ms']:.1f} ms ({f['password_step_ratio']:.2f}×)"
                    if "password_step_cpu_ms" in f else "—")
            lines.append(f"| {d} | {f['logins_per_s']:.0f} | {f['server_cpu_ms_per_login']:.1f} ms | "
                         f"{f['logins_per_s_per_core']:.1f} | {raw['cpu_ms_per_verify']} ms | "
                         f"{raw['verifies_per_s_per_core']:.1f} | {f['ratio']:.2f}× | "
                         f"{f['cpu_ms_beyond_the_hash']:.1f} ms | {step} | {f.get('peer_ratio', '—')}× | "
                         f"≥ {f['target']}× |")
    two = report.get("two_instances")
    if two:
        lines += ["", "Two `idgw serve` instances on one PostgreSQL against one (round robin per connection, the "
                      "same load, alternating rounds; on 2 cores that also run the load and PostgreSQL a second "
                      "instance gains only what one leaves idle):", ""]
        for metric, f in two.items():
            lines.append(f"- {metric}: two {f['two']:.0f}/s, one {f['one']:.0f}/s: {f['ratio']:.2f}× "
                         f"(server CPU per operation {f['cpu_ms_per_op']['two']} ms against "
                         f"{f['cpu_ms_per_op']['one']} ms; the second instance's share of the gateways' CPU "
                         f"{f['second_instance_cpu_share']:.0%}; errors {f['errors']['two']} / {f['errors']['one']})")
    return lines


def verdicts(report: dict) -> list[str]:
    out = []
    for d, r in report["databases"].items():
        f = r.get("password_per_core")
        if f:
            out.append(f"{'met ' if f['ratio'] >= f['target'] else 'MISS'}  {d:10s} {'password/core':15s} "
                       f"{f['ratio']:.2f}× raw argon2id (target ≥ {f['target']}×)")
    for metric, f in (report.get("two_instances") or {}).items():
        out.append(f"info  postgresql two instances {metric} {f['ratio']:.2f}× one "
                   "(2 cores shared with the load and PostgreSQL)")
    return out
