"""The media adapter: where staff photos are kept.

:class:`MediaStore` is the interface. :class:`CloudinaryMediaStore` uses the official
``cloudinary`` SDK (signed upload, a thumbnail URL, destroy) and is chosen when
``CLOUDINARY_URL`` is set; :class:`LocalMediaStore` is its offline twin and keeps files
under ``KAIMEN_DATA_DIR/media/``, from where the app shows them.

A stored photo is named by a reference string: ``local:<folder>/<name>`` or
``cloudinary:<public id>``. Only kaimen_core.media's cleaned images reach an adapter.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

from kaimen_core.config import Settings, get_settings
from kaimen_core.exceptions import ConfigurationError, KaimenError, ValidationError
from kaimen_core.files import write_private

__all__ = ["CloudinaryMediaStore", "LocalMediaStore", "MediaStore", "MediaUnavailable", "media_store", "store_for"]

log = logging.getLogger(__name__)
THUMBNAIL_SIDE = 320
_SAFE = re.compile(r"^[a-z0-9_-]+/[a-f0-9]{32}\.(jpg|png|webp)$")


class MediaUnavailable(KaimenError):
    """The photo service did not answer or refused; nothing was changed."""


class MediaStore(Protocol):
    """Keep, show and delete an image."""

    def save(self, data: bytes, *, folder: str, name: str) -> str:
        """Store ``data`` as ``folder/name``; return its reference."""

    def display(self, ref: str) -> str | bytes | None:
        """What a page passes to ``st.image``: a thumbnail URL, the bytes, or None if gone."""

    def delete(self, ref: str) -> None:
        """Remove the stored image (no error if it is already gone)."""


class LocalMediaStore:
    """The offline twin: files under ``root`` (``KAIMEN_DATA_DIR/media``)."""

    prefix = "local:"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, ref: str) -> Path:
        relative = ref.removeprefix(self.prefix)
        if not ref.startswith(self.prefix) or not _SAFE.match(relative):
            raise ValidationError("Not a stored photo.", field="photo")
        return self.root / relative

    def save(self, data: bytes, *, folder: str, name: str) -> str:
        ref = f"{self.prefix}{folder}/{name}"
        write_private(self._path(ref), data)
        return ref

    def display(self, ref: str) -> bytes | None:
        try:
            return self._path(ref).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)


class CloudinaryMediaStore:
    """Cloudinary through its official SDK; credentials from ``cloudinary://KEY:SECRET@CLOUD``.

    Options are passed on every call rather than through the SDK's global config, so
    the process's settings decide and nothing leaks between configurations.
    ``?upload_prefix=...`` in the URL points the SDK at another API address (tests).
    """

    prefix = "cloudinary:"

    def __init__(self, url: str, *, timeout: float = 20) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "cloudinary" or not (parsed.hostname and parsed.username and parsed.password):
            raise ConfigurationError("CLOUDINARY_URL must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME.")
        self._options = {
            "cloud_name": parsed.hostname,
            "api_key": parsed.username,
            "api_secret": parsed.password,
            "timeout": timeout,
        }
        for key, values in parse_qs(parsed.query).items():
            if key == "upload_prefix":
                self._options["upload_prefix"] = values[0]

    def save(self, data: bytes, *, folder: str, name: str) -> str:
        import cloudinary.uploader

        public_id = f"kaimen/{folder}/{name.rsplit('.', 1)[0]}"
        try:
            result = cloudinary.uploader.upload(
                io.BytesIO(data), public_id=public_id, resource_type="image", overwrite=False,
                unique_filename=False, filename=name, **self._options,
            )
        except Exception as exc:  # the SDK raises its own Error, urllib3 errors, ValueError...
            log.warning("cloudinary upload failed: %s", type(exc).__name__)
            raise MediaUnavailable("The photo service did not accept the photo; try again later.") from exc
        return f"{self.prefix}{result.get('public_id', public_id)}"

    def display(self, ref: str) -> str:
        import cloudinary.utils

        url, _ = cloudinary.utils.cloudinary_url(
            ref.removeprefix(self.prefix), width=THUMBNAIL_SIDE, height=THUMBNAIL_SIDE, crop="fill",
            gravity="face", secure=True, fetch_format="auto", cloud_name=self._options["cloud_name"],
        )
        return url

    def delete(self, ref: str) -> None:
        import cloudinary.uploader

        try:
            result = cloudinary.uploader.destroy(ref.removeprefix(self.prefix), invalidate=True,
                                                 resource_type="image", **self._options)
        except Exception as exc:
            log.warning("cloudinary destroy failed: %s", type(exc).__name__)
            raise MediaUnavailable("The photo service did not delete the photo; try again later.") from exc
        if result.get("result") not in ("ok", "not found"):
            raise MediaUnavailable("The photo service did not delete the photo; try again later.")


def media_store(settings: Settings | None = None) -> MediaStore:
    """Cloudinary when CLOUDINARY_URL is set, otherwise files under the data folder."""
    settings = settings or get_settings()
    if settings.cloudinary_url is not None and settings.cloudinary_url.get_secret_value():
        return CloudinaryMediaStore(settings.cloudinary_url.get_secret_value())
    return LocalMediaStore(settings.data_dir / "media")


def store_for(ref: str, settings: Settings | None = None) -> MediaStore:
    """The adapter that holds ``ref`` (a local photo stays readable after Cloudinary is set up)."""
    settings = settings or get_settings()
    if ref.startswith(LocalMediaStore.prefix):
        return LocalMediaStore(settings.data_dir / "media")
    return media_store(settings)


