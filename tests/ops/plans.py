"""PostgreSQL's plan of one statement, for the tests that hold a query to its indexes on a table
of realistic size (test_account_search_index, test_audit_filter_index)."""

from __future__ import annotations

from sqlalchemy import text


def explain(engine, statement) -> dict:
    """The plan of ``statement`` (a SQLAlchemy statement, its values inlined), with sequential
    scans priced out as in tests/ops/test_index_use.py: a full read then shows only where no
    index can serve."""
    sql = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        return conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()[0]["Plan"]


def nodes(plan: dict):
    """Every node of a plan, the root first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)
