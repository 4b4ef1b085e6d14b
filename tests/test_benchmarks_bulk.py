"""The benchmark's bulk seeding of SQL stores leaves the rows, and the substring index, that
seeding through `Storage.create` leaves (benchmarks/bulk.py)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import inspect, select, text

import scimflask
from benchmarks import bulk
from benchmarks.directory import seed_users, user_id
from benchmarks.workloads import LOOKUPS
from tests.storage.sql_helpers import DATABASES, MYSQL, unique_prefix

TOKEN = "bulk-test-token"
USERS = 40
# Columns that differ between two seedings of the same users: the time of the create.
TIMES = {"created", "created_key", "last_modified"}


def _app(uri: str):
    options = {"table_prefix": unique_prefix()}
    if uri.startswith("mysql"):
        options["engine_options"] = {"connect_args": {"local_infile": True}}  # LOAD DATA LOCAL
    return scimflask.create_app({"SCIM_STORAGE_URI": uri, "SCIM_STORAGE_OPTIONS": options,
                                 "SCIM_BEARER_TOKENS": (TOKEN,), "SCIM_DEFAULT_TENANT": "bench",
                                 "SCIM_SECRET_KEY": "bulk"})


def _rows(storage, table) -> list[tuple]:
    columns = [c for c in table.c if c.name not in TIMES and not (c.primary_key and c.autoincrement is True)]
    with storage.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(*columns)))


def _pair(uri: str):
    apps = [_app(uri), _app(uri)]
    yield apps
    for app in apps:
        storage = app.extensions["scim"].storage
        storage.tables.metadata.drop_all(storage.engine)
        storage.close()


@pytest.fixture(params=DATABASES)
def pair(request):
    yield from _pair(request.param)


@pytest.fixture(params=[MYSQL])
def mysql_pair(request):
    """Only MySQL/MariaDB keeps a `trigrams` table."""
    yield from _pair(request.param)


def test_bulk_rows_are_the_rows_of_creates(pair):
    by_create, by_bulk = (app.extensions["scim"] for app in pair)
    seed_users(by_create, "bench", 0, USERS, threads=1)
    assert bulk.is_bulk(by_bulk.storage)
    bulk.seed_users(by_bulk, "bench", 0, USERS // 2)
    bulk.seed_users(by_bulk, "bench", USERS // 2, USERS)
    bulk.finish(by_bulk)
    a, b = by_create.storage, by_bulk.storage
    tables = ["resources", "uniques", "values"]
    dialect = a.engine.dialect.name
    if dialect == "mysql":
        tables.append("trigrams")
    if dialect == "sqlite":
        tables.append("substrings")
    for name in tables:
        assert _rows(b, getattr(b.tables, name)) == _rows(a, getattr(a.tables, name)), name
    if dialect == "sqlite":  # the FTS5 entries: the same phrase finds the same rows
        for storage in (a, b):
            fts = storage.tables.substrings.name + "_fts"
            with storage.engine.connect() as connection:
                found = connection.execute(text(f'SELECT count(*) FROM "{fts}" WHERE key MATCH \'"r17@"\'')).scalar()
            assert found == 2  # userName and emails.value of user 17


def test_spooled_trigrams_load_in_key_order_as_the_rows_of_creates(mysql_pair, tmp_path, monkeypatch):
    pair = mysql_pair
    by_create, by_bulk = (app.extensions["scim"] for app in pair)
    seed_users(by_create, "bench", 0, USERS, threads=1)
    bulk.seed_users(by_bulk, "bench", 0, USERS // 2, tmp_path)
    bulk.seed_users(by_bulk, "bench", USERS // 2, USERS, tmp_path)
    a, b = by_create.storage, by_bulk.storage
    assert _rows(b, b.tables.trigrams) == []  # spooled, not loaded
    expected = _rows(a, a.tables.trigrams)
    monkeypatch.setattr(bulk, "ROWS_PER_LOAD", len(expected) // 3)  # several loads, as at scale
    assert bulk.load_spooled_trigrams(by_bulk, tmp_path) == len(expected)
    assert _rows(b, b.tables.trigrams) == expected
    assert list(tmp_path.iterdir()) == []
    # The owner index and its foreign key are back: deleting a user deletes its trigrams.
    schema = inspect(b.engine)
    table = b.tables.trigrams.name
    assert [ix["name"] for ix in schema.get_indexes(table)] == [ix.name for ix in b.tables.trigrams.indexes]
    assert [fk["name"] for fk in schema.get_foreign_keys(table)] == [
        fk.name for fk in b.tables.trigrams.foreign_key_constraints]
    response = pair[1].test_client().delete(f"/scim/v2/Users/{user_id(3)}",
                                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 204
    assert {row[-1] for row in _rows(b, b.tables.trigrams)} == {user_id(i) for i in range(USERS) if i != 3}


def test_bulk_seeded_users_answer_every_lookup(pair):
    app = pair[1]
    state = app.extensions["scim"]
    bulk.seed_users(state, "bench", 0, USERS)
    bulk.finish(state)
    client = app.test_client()
    for name, expression in LOOKUPS.items():
        response = client.get(f"/scim/v2/Users?filter={quote(expression(17))}",
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, name
        assert [r["id"] for r in response.get_json()["Resources"]] == [user_id(17)], name


def test_load_data_fields_escape_what_its_format_reads_specially():
    assert bulk._tsv_field(None) == "\\N"
    assert bulk._tsv_field(True) == "1"
    assert bulk._tsv_field("a\tb\nc\\d") == "a\\tb\\nc\\\\d"
    assert bulk._tsv_field(1.5) == "1.5"
