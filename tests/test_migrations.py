"""The migrations build exactly the schema the models describe, on both databases (a column added
to a model without a migration, or the other way round, fails here rather than in production)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from idgw.storage.db import make_engine, upgrade
from idgw.storage.models import Base


def test_migrations_match_the_models(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
