"""Schema changes made while the gateway serves (PostgreSQL): indexes built ``CONCURRENTLY``,
for migrations on tables that every sign-in or token request writes."""

from __future__ import annotations


def build_index_concurrently(bind, name: str, definition: str, *, unique: bool = False) -> None:
    """``CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name definition`` (``definition``: ``ON table
    (...)`` and any ``WHERE``). Writes to the table go on meanwhile; the migration must run it in
    ``op.get_context().autocommit_block()`` (not in a transaction). A build cut short leaves an
    invalid index behind, which ``IF NOT EXISTS`` would keep: it is dropped and built again."""
    valid = bind.exec_driver_sql("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                                 " WHERE c.relname = %(name)s", {"name": name}).scalar()
    if valid is False:
        bind.exec_driver_sql(f"DROP INDEX CONCURRENTLY {name}")
    bind.exec_driver_sql(f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")
