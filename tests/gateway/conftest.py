"""Gateway fixtures: the same store tests run on SQLite and on the local PostgreSQL."""
import os
import uuid

import pytest

from gateway.store import Store
from tests.conftest import reachable

PG_DSN = os.environ.get("SMARTCAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema_dsn() -> str:
    """A DSN whose search_path is a fresh schema (dropped after the test)."""
    import psycopg

    if not reachable("127.0.0.1", 5432) and "SMARTCAM_TEST_PG" not in os.environ:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 (set SMARTCAM_TEST_PG)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_DSN else "?"
    return f"{PG_DSN}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def dsn(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/gw.db"
    else:
        url, schema = pg_schema_dsn()
        yield url
        drop_schema(schema)


@pytest.fixture
def store(dsn):
    s = Store(dsn)
    yield s
    s.close()
