"""One Settings object, read from the environment and ``.env``.

Every field says what it is for. Secrets are ``SecretStr`` so they never print. A
missing or malformed setting fails at start with a message that names it
(:func:`get_settings` raises :class:`ConfigurationError`).
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kaimen_core.exceptions import ConfigurationError
from kaimen_core.files import write_private

__all__ = ["Settings", "cookie_key", "get_settings", "reset_settings", "secrets_key"]

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "todo"}


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Kaimen's configuration; environment variable names are given on each field."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "production"] = Field(
        "development",
        validation_alias=_env("KAIMEN_ENV"),
        description="development allows generated secrets; production requires them all.",
    )
    data_dir: Path = Field(
        Path("data"),
        validation_alias=_env("KAIMEN_DATA_DIR"),
        description="Folder for the SQLite database, generated keys and local files.",
    )
    database_url: str | None = Field(
        None,
        validation_alias=_env("KAIMEN_DATABASE_URL"),
        description="Where the app connects: sqlite:///path or postgresql+psycopg://user@host/db. "
        "On PostgreSQL this role must not be superuser nor bypass row-level security.",
    )
    migrate_database_url: str | None = Field(
        None,
        validation_alias=_env("KAIMEN_MIGRATE_DATABASE_URL"),
        description="The schema owner's connection for migrations; defaults to KAIMEN_DATABASE_URL.",
    )
    cookie_key_value: SecretStr | None = Field(
        None,
        validation_alias=_env("KAIMEN_COOKIE_KEY"),
        description="Key that signs the sign-in cookie; generated under the data folder in "
        "development when not given.",
    )
    secrets_key_value: SecretStr | None = Field(
        None,
        validation_alias=_env("KAIMEN_SECRETS_KEY"),
        description="Key that encrypts secrets stored in the database (businesses' Twilio auth tokens); "
        "generated under the data folder in development when not given. Changing it makes stored "
        "secrets unreadable: they must be entered again.",
    )
    session_days: int = Field(
        14, ge=1, le=90, validation_alias=_env("KAIMEN_SESSION_DAYS"),
        description="How long a sign-in lasts before the user must sign in again.",
    )
    bcrypt_rounds: int = Field(
        12, ge=4, le=16, validation_alias=_env("KAIMEN_BCRYPT_ROUNDS"),
        description="Cost of password hashing (each step doubles the work).",
    )
    twilio_account_sid: str | None = Field(
        None, validation_alias=_env("TWILIO_ACCOUNT_SID"), description="The platform's Twilio account."
    )
    twilio_auth_token: SecretStr | None = Field(
        None, validation_alias=_env("TWILIO_AUTH_TOKEN"), description="The platform's Twilio auth token."
    )
    twilio_api_base: str | None = Field(
        None, validation_alias=_env("KAIMEN_TWILIO_API_BASE"),
        description="Send Twilio API calls here instead of https://api.twilio.com (tests' fake server).",
    )
    stripe_secret_key: SecretStr | None = Field(
        None, validation_alias=_env("STRIPE_SECRET_KEY"), description="Stripe API key for billing."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("STRIPE_WEBHOOK_SECRET"), description="Stripe webhook signing secret."
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY"), description="Anthropic key for the AI receptionist."
    )
    cloudinary_url: SecretStr | None = Field(
        None, validation_alias=_env("CLOUDINARY_URL"), description="cloudinary://KEY:SECRET@CLOUD for staff photos."
    )
    webhook_host: str = Field(
        "127.0.0.1", validation_alias=_env("KAIMEN_WEBHOOK_HOST"), description="Address the webhook sidecar binds."
    )
    webhook_port: int = Field(
        8502, ge=1, le=65535, validation_alias=_env("KAIMEN_WEBHOOK_PORT"),
        description="Port the webhook sidecar binds.",
    )
    public_url: str | None = Field(
        None, validation_alias=_env("KAIMEN_PUBLIC_URL"),
        description="The public https address providers call, used to check webhook signatures.",
    )

    @field_validator("database_url", "migrate_database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        if value.startswith(("sqlite:///", "postgresql+psycopg://")):
            return value
        raise ValueError("must start with sqlite:/// or postgresql:// (psycopg 3 is the driver)")

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) address such as https://kaimen.example.com")
        return value.rstrip("/")

    @property
    def app_database_url(self) -> str:
        """The URL the app, sidecar and worker connect with."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'kaimen.db'}"

    @property
    def owner_database_url(self) -> str:
        """The URL migrations run with (the schema owner)."""
        return self.migrate_database_url or self.app_database_url

    def refuse_placeholders(self) -> None:
        """In production every secret in use must be real, never a placeholder or generated."""
        if self.environment != "production":
            return
        for name, key in (("KAIMEN_COOKIE_KEY", self.cookie_key_value),
                          ("KAIMEN_SECRETS_KEY", self.secrets_key_value)):
            if key is None:
                raise ConfigurationError(f"{name} must be set in production.")
        named = {
            "KAIMEN_COOKIE_KEY": self.cookie_key_value,
            "KAIMEN_SECRETS_KEY": self.secrets_key_value,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "STRIPE_SECRET_KEY": self.stripe_secret_key,
            "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret,
            "ANTHROPIC_API_KEY": self.anthropic_api_key,
            "CLOUDINARY_URL": self.cloudinary_url,
        }
        for name, secret in named.items():
            if secret is not None and secret.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ConfigurationError(f"{name} is a placeholder; set the real value.")
        for name, key in (("KAIMEN_COOKIE_KEY", self.cookie_key_value),
                          ("KAIMEN_SECRETS_KEY", self.secrets_key_value)):
            if key is not None and len(key.get_secret_value()) < 32:
                raise ConfigurationError(f"{name} must be at least 32 characters.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated once; raises ConfigurationError naming the bad setting."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            alias = Settings.model_fields.get(field)
            name = field
            if alias is not None and isinstance(alias.validation_alias, AliasChoices):
                name = str(alias.validation_alias.choices[0])
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError("Invalid configuration: " + "; ".join(problems)) from None
    settings.refuse_placeholders()
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()


def cookie_key(settings: Settings) -> bytes:
    """The cookie signing key: the configured one, else one generated once under data/."""
    return _key(settings, settings.cookie_key_value, "cookie_key")


def secrets_key(settings: Settings) -> bytes:
    """The key material for secrets stored in the database: the configured one, else generated once under data/."""
    return _key(settings, settings.secrets_key_value, "secrets_key")


def _key(settings: Settings, configured: SecretStr | None, filename: str) -> bytes:
    """A configured key, else one generated once into ``data/<filename>`` (only in development)."""
    if configured is not None:
        return configured.get_secret_value().encode()
    settings.refuse_placeholders()
    path = settings.data_dir / filename
    if not path.exists():
        try:
            write_private(path, secrets.token_urlsafe(48).encode(), exclusive=True)
        except FileExistsError:  # another process generated it first
            pass
    return path.read_text().strip().encode()
