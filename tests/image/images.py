"""Real image files made in memory with Pillow, and the requests that upload them."""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import Any

import httpx
from PIL import Image, PngImagePlugin

from tests.fixtures.users import SignedIn

AVATAR = "/api/v1/images/avatar"
MY_AVATAR = "/api/v1/users/me/avatar"

# EXIF tags: Orientation, Make, and an "Artist" a user would not want published.
ORIENTATION, MAKE, ARTIST = 0x0112, 0x010F, 0x013B


def create_jpeg(
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 40, 40),
    *,
    exif: dict[int, Any] | None = None,
    mode: str = "RGB",
) -> bytes:
    image = Image.new(mode, size, color if mode == "RGB" else None)
    out = io.BytesIO()
    tags = Image.Exif()
    for tag, value in (exif or {}).items():
        tags[tag] = value
    image.save(out, "JPEG", quality=95, exif=tags)
    return out.getvalue()


def create_png(
    size: tuple[int, int] = (64, 48),
    color: tuple[int, ...] = (30, 120, 200, 255),
    *,
    mode: str = "RGBA",
    text: dict[str, str] | None = None,
    exif: dict[int, Any] | None = None,
) -> bytes:
    image = Image.new(mode, size, color)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    tags = Image.Exif()
    for tag, value in (exif or {}).items():
        tags[tag] = value
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=tags)
    return out.getvalue()


def create_two_tone_png(size: tuple[int, int]) -> bytes:
    """Left half red, right half blue: shows which way an image was turned or scaled."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def create_noise_png(size: tuple[int, int]) -> bytes:
    """Random pixels do not compress: about 3 bytes a pixel on disk."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def create_in_format(pillow_format: str, size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, pillow_format)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims `width`×`height` pixels (a decompression bomb's
    signature): the IHDR chunk is rewritten with its checksum recomputed."""
    data = create_png((8, 8), mode="L", color=(0,))
    assert data[12:16] == b"IHDR"
    body = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + data[33:]


def corrupt_png_checksum(data: bytes) -> bytes:
    """Flip one byte inside the IDAT chunk's data, leaving its CRC stale."""
    position = data.index(b"IDAT") + 6
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def upload(
    client: httpx.AsyncClient,
    who: SignedIn | None,
    data: bytes,
    *,
    filename: str = "avatar.png",
    content_type: str = "image/png",
    method: str = "POST",
    url: str = AVATAR,
) -> httpx.Response:
    return await client.request(
        method,
        url,
        files={"file": (filename, data, content_type)},
        headers=who.headers if who else None,
    )
