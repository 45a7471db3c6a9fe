"""Staff photos: what Kaimen accepts, and how it is cleaned before it is stored.

Only real JPEG, PNG or WebP images are accepted, checked by decoding them with Pillow
(never by the file name or the type the browser claims): under 5 MB, at most
:data:`MAX_PIXELS` pixels (a decompression bomb is refused before it is decoded), and
re-encoded from the decoded pixels so EXIF, GPS location and any other metadata or
trailing bytes are dropped. The result is stored under a generated name by the media
adapter (:mod:`kaimen_core.providers.media`).
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from kaimen_core.exceptions import ValidationError

__all__ = ["ALLOWED_FORMATS", "MAX_BYTES", "MAX_PIXELS", "MAX_SIDE", "CleanImage", "clean_photo"]

MAX_BYTES = 5 * 1024 * 1024
#: 40 megapixels: more than any phone camera, far below what a bomb expands to.
MAX_PIXELS = 40_000_000
#: Stored photos are scaled down to fit this many pixels on their longer side.
MAX_SIDE = 1600
ALLOWED_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
_REFUSED = "Choose a JPEG, PNG or WebP photo."
_MADE_BY_CLEAN_PHOTO = object()


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A photo decoded, checked and re-encoded without metadata, with a generated name.

    Only :func:`clean_photo` makes one, so holding one proves the check ran: a page can
    keep it across reruns and have it stored without decoding the upload again.
    """

    data: bytes
    name: str
    content_type: str
    width: int
    height: int
    _made_by: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._made_by is not _MADE_BY_CLEAN_PHOTO:
            raise TypeError("A CleanImage comes from media.clean_photo() only.")


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValidationError("That image has too many pixels to be a photo.", field="photo") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValidationError(f"That file is not an image Kaimen can read. {_REFUSED}", field="photo") from exc
    return image


def clean_photo(data: bytes) -> CleanImage:
    """Check ``data`` is a real photo within the limits; return it re-encoded without metadata.

    Raises ValidationError with a message for the person uploading it.
    """
    if not data:
        raise ValidationError("The file is empty.", field="photo")
    if len(data) >= MAX_BYTES:
        raise ValidationError(f"Photos must be smaller than 5 MB ({len(data) / 1_048_576:.1f} MB given).",
                              field="photo")
    image = _open(data)
    if image.format not in ALLOWED_FORMATS:
        raise ValidationError(f"{image.format} files are not accepted. {_REFUSED}", field="photo")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValidationError(
            f"That image is {width}×{height} pixels; photos may have at most {MAX_PIXELS // 1_000_000} megapixels.",
            field="photo",
        )
    try:
        image.verify()  # structure and checksums; the image must be opened again afterwards
        image = _open(data)
        image.load()
    except ValidationError:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged file
        raise ValidationError(f"That image is damaged or incomplete. {_REFUSED}", field="photo") from exc
    fmt = image.format
    extension, content_type = ALLOWED_FORMATS[fmt]
    image = ImageOps.exif_transpose(image)  # keep the photo upright once its EXIF is gone
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    pixels = image.convert("RGBA" if has_alpha and fmt != "JPEG" else "RGB")
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    clean = Image.new(pixels.mode, pixels.size)  # a new image carries no info, EXIF, ICC or XMP
    clean.paste(pixels)
    out = io.BytesIO()
    options = {"quality": 88} if fmt in ("JPEG", "WEBP") else {"optimize": True}
    clean.save(out, format=fmt, **options)
    return CleanImage(out.getvalue(), f"{secrets.token_hex(16)}.{extension}", content_type, *clean.size,
                      _made_by=_MADE_BY_CLEAN_PHOTO)
