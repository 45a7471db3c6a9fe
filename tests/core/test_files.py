"""Kaimen's local files are readable only by the user its processes run as (kaimen_core.files).

Folders 0700, files 0600 whatever the umask: the SQLite database with its -wal and -shm
files, the generated keys and the staff photos kept on disk.
"""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from kaimen_core import config, db
from kaimen_core.providers.media import LocalMediaStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data folder of its own, holding the SQLite database, under the usual umask 022."""
    folder = tmp_path / "data"
    monkeypatch.setenv("KAIMEN_DATA_DIR", str(folder))
    monkeypatch.setenv("KAIMEN_DATABASE_URL", f"sqlite:///{folder / 'kaimen.db'}")
    monkeypatch.setenv("KAIMEN_MIGRATE_DATABASE_URL", f"sqlite:///{folder / 'kaimen.db'}")
    monkeypatch.delenv("KAIMEN_COOKIE_KEY", raising=False)
    previous = os.umask(0o022)
    config.reset_settings()
    db.reset_engine()
    yield folder
    db.reset_engine()
    os.umask(previous)
    monkeypatch.undo()
    config.reset_settings()


def test_a_new_database_its_wal_and_its_folder_are_private(data_dir):
    db.migrate()
    with db.get_engine().begin() as connection:  # a write, with the connection open: -wal and -shm exist
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        files = {name: mode(data_dir / name) for name in os.listdir(data_dir) if name.startswith("kaimen.db")}
    assert mode(data_dir) == 0o700
    assert set(files) >= {"kaimen.db", "kaimen.db-wal", "kaimen.db-shm"}
    assert set(files.values()) == {0o600}


def test_an_existing_open_folder_and_database_are_narrowed(data_dir):
    data_dir.mkdir(mode=0o755)
    (data_dir / "kaimen.db").touch(mode=0o644)
    os.chmod(data_dir, 0o755)  # noqa: S103 (the open mode an older Kaimen left)
    os.chmod(data_dir / "kaimen.db", 0o644)
    db.migrate()
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "kaimen.db") == 0o600


def test_generated_keys_and_stored_photos_are_private(data_dir):
    key = config.cookie_key(config.get_settings())
    assert len(key) >= 32
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "cookie_key") == 0o600

    ref = LocalMediaStore(data_dir / "media").save(b"\xff\xd8 a photo", folder="b7", name="a" * 32 + ".jpg")
    photo = data_dir / "media" / ref.removeprefix("local:")
    assert photo.read_bytes() == b"\xff\xd8 a photo"
    assert mode(photo) == 0o600
    assert mode(photo.parent) == 0o700 and mode(data_dir / "media") == 0o700
