"""Settings (kaimen_core.config): defaults, URL handling, and refusals that name the setting."""

from __future__ import annotations

import os
import stat

import pytest

from kaimen_core import config
from kaimen_core.exceptions import ConfigurationError

_OURS = ("KAIMEN_ENV", "KAIMEN_DATA_DIR", "KAIMEN_DATABASE_URL", "KAIMEN_MIGRATE_DATABASE_URL", "KAIMEN_COOKIE_KEY",
         "KAIMEN_SECRETS_KEY", "KAIMEN_SESSION_DAYS", "KAIMEN_BCRYPT_ROUNDS", "KAIMEN_WEBHOOK_HOST",
         "KAIMEN_WEBHOOK_PORT",
         "KAIMEN_PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
         "ANTHROPIC_API_KEY", "CLOUDINARY_URL")
GOOD_KEY = "k" * 40


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A bare environment (none of Kaimen's variables) in an empty folder with no .env file.

    monkeypatch restores the test run's own environment afterwards, and the settings
    cache is cleared on the way in and out so no other test sees these settings.
    """
    for name in _OURS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAIMEN_DATA_DIR", str(tmp_path / "data"))
    config.reset_settings()
    yield monkeypatch
    config.reset_settings()


def _refused(name: str) -> str:
    config.reset_settings()
    with pytest.raises(ConfigurationError) as refused:
        config.get_settings()
    assert name in str(refused.value)
    return str(refused.value)


def test_defaults_need_nothing_but_a_data_folder(env, tmp_path):
    settings = config.get_settings()
    assert settings.environment == "development"
    assert settings.app_database_url == f"sqlite:///{tmp_path / 'data' / 'kaimen.db'}"
    assert settings.owner_database_url == settings.app_database_url
    assert (settings.session_days, settings.bcrypt_rounds, settings.webhook_port) == (14, 12, 8502)
    assert settings.public_url is None and settings.twilio_auth_token is None
    assert config.get_settings() is settings  # read once per process


def test_the_data_folder_defaults_to_data_in_the_working_folder(env, tmp_path):
    env.delenv("KAIMEN_DATA_DIR")
    config.reset_settings()
    assert config.get_settings().app_database_url == "sqlite:///data/kaimen.db"


def test_a_dot_env_file_is_read(env, tmp_path):
    (tmp_path / ".env").write_text("KAIMEN_WEBHOOK_PORT=9100\nKAIMEN_PUBLIC_URL=https://kaimen.example.com/\n")
    settings = config.get_settings()
    assert settings.webhook_port == 9100
    assert settings.public_url == "https://kaimen.example.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://app:pw@db.example.com:5432/kaimen", "postgresql+psycopg://app:pw@db.example.com:5432/kaimen"),
        ("postgresql://app@db/kaimen", "postgresql+psycopg://app@db/kaimen"),
        ("postgresql+psycopg://app@db/kaimen", "postgresql+psycopg://app@db/kaimen"),
        ("  sqlite:////var/lib/kaimen/kaimen.db  ", "sqlite:////var/lib/kaimen/kaimen.db"),
    ],
)
def test_database_urls_are_normalised_for_psycopg_3(env, given, expected):
    env.setenv("KAIMEN_DATABASE_URL", given)
    env.setenv("KAIMEN_MIGRATE_DATABASE_URL", given.replace("app", "owner"))
    settings = config.get_settings()
    assert settings.app_database_url == expected
    assert settings.owner_database_url == expected.replace("app", "owner")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KAIMEN_DATABASE_URL", "mysql://app@db/kaimen"),
        ("KAIMEN_DATABASE_URL", "db.example.com/kaimen"),
        ("KAIMEN_MIGRATE_DATABASE_URL", "postgresql+asyncpg://owner@db/kaimen"),
        ("KAIMEN_WEBHOOK_PORT", "not-a-port"),
        ("KAIMEN_WEBHOOK_PORT", "70000"),
        ("KAIMEN_WEBHOOK_PORT", "0"),
        ("KAIMEN_PUBLIC_URL", "kaimen.example.com"),
        ("KAIMEN_PUBLIC_URL", "ftp://kaimen.example.com"),
        ("KAIMEN_SESSION_DAYS", "0"),
        ("KAIMEN_BCRYPT_ROUNDS", "3"),
        ("KAIMEN_ENV", "staging"),
    ],
)
def test_a_malformed_setting_is_refused_by_name(env, name, value):
    env.setenv(name, value)
    message = _refused(name)
    assert message.startswith("Invalid configuration: ")


def test_every_malformed_setting_is_named_at_once(env):
    env.setenv("KAIMEN_WEBHOOK_PORT", "nope")
    env.setenv("KAIMEN_PUBLIC_URL", "nope")
    message = _refused("KAIMEN_WEBHOOK_PORT")
    assert "KAIMEN_PUBLIC_URL" in message


def test_production_requires_a_cookie_key(env):
    env.setenv("KAIMEN_ENV", "production")
    env.setenv("KAIMEN_SECRETS_KEY", GOOD_KEY)
    _refused("KAIMEN_COOKIE_KEY")
    settings = config.Settings()  # and the key is never generated in production either
    with pytest.raises(ConfigurationError, match="KAIMEN_COOKIE_KEY"):
        config.cookie_key(settings)
    assert not (settings.data_dir / "cookie_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KAIMEN_COOKIE_KEY", "changeme", "placeholder"),
        ("KAIMEN_COOKIE_KEY", "  ", "placeholder"),
        ("KAIMEN_COOKIE_KEY", "too-short-for-a-key", "at least 32 characters"),
        ("KAIMEN_SECRETS_KEY", "changeme", "placeholder"),
        ("KAIMEN_SECRETS_KEY", "too-short-for-a-key", "at least 32 characters"),
        ("STRIPE_SECRET_KEY", "placeholder", "placeholder"),
        ("TWILIO_AUTH_TOKEN", "TODO", "placeholder"),
        ("ANTHROPIC_API_KEY", "xxx", "placeholder"),
    ],
)
def test_production_refuses_placeholder_secrets(env, name, value, message):
    env.setenv("KAIMEN_ENV", "production")
    env.setenv("KAIMEN_COOKIE_KEY", GOOD_KEY)
    env.setenv("KAIMEN_SECRETS_KEY", GOOD_KEY)
    env.setenv(name, value)
    assert message in _refused(name)


def test_production_requires_a_secrets_key_and_never_generates_one(env):
    env.setenv("KAIMEN_ENV", "production")
    env.setenv("KAIMEN_COOKIE_KEY", GOOD_KEY)
    _refused("KAIMEN_SECRETS_KEY")
    settings = config.Settings()
    with pytest.raises(ConfigurationError, match="KAIMEN_SECRETS_KEY"):
        config.secrets_key(settings)
    assert not (settings.data_dir / "secrets_key").exists()


def test_production_accepts_real_secrets_and_never_prints_them(env):
    env.setenv("KAIMEN_ENV", "production")
    env.setenv("KAIMEN_COOKIE_KEY", GOOD_KEY)
    env.setenv("KAIMEN_SECRETS_KEY", "s" * 44)
    env.setenv("STRIPE_SECRET_KEY", "sk_live_really_secret_value")
    settings = config.get_settings()
    assert config.cookie_key(settings) == GOOD_KEY.encode()
    assert config.secrets_key(settings) == b"s" * 44
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert GOOD_KEY not in shown and "sk_live_really_secret_value" not in shown and "s" * 44 not in shown


def test_development_accepts_placeholders(env):
    env.setenv("KAIMEN_COOKIE_KEY", "changeme")
    assert config.cookie_key(config.get_settings()) == b"changeme"


def test_the_cookie_key_is_generated_once_readable_only_by_its_owner(env, tmp_path):
    settings = config.get_settings()
    path = tmp_path / "data" / "cookie_key"
    assert not path.exists()
    key = config.cookie_key(settings)
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(key) >= 32
    # Reused by later calls and by a new process's settings: sign-ins survive a restart.
    config.reset_settings()
    assert config.cookie_key(config.get_settings()) == key
    assert path.read_bytes().strip() == key


def test_a_configured_cookie_key_wins_and_writes_no_file(env, tmp_path):
    env.setenv("KAIMEN_COOKIE_KEY", GOOD_KEY)
    assert config.cookie_key(config.get_settings()) == GOOD_KEY.encode()
    assert not (tmp_path / "data" / "cookie_key").exists()


def test_the_secrets_key_is_generated_once_apart_from_the_cookie_key(env, tmp_path):
    settings = config.get_settings()
    key = config.secrets_key(settings)
    path = tmp_path / "data" / "secrets_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(key) >= 32 and key != config.cookie_key(settings)
    config.reset_settings()  # a restart reads the same key, so stored secrets still open
    assert config.secrets_key(config.get_settings()) == key


def test_a_configured_secrets_key_wins_and_writes_no_file(env, tmp_path):
    env.setenv("KAIMEN_SECRETS_KEY", GOOD_KEY)
    assert config.secrets_key(config.get_settings()) == GOOD_KEY.encode()
    assert not (tmp_path / "data" / "secrets_key").exists()
