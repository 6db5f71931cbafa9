"""The pure stages of `cinesonic.image.processing`, one at a time, on images made here."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cinesonic.image import processing
from cinesonic.image.errors import ImageTooManyPixels, InvalidImage, UnsupportedImageType
from tests.image.images import create_in_format, create_jpeg, create_png, decode, png_claiming


def encode(image: Image.Image, pillow_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, pillow_format, **options)
    return out.getvalue()


def test_sniff_reads_the_magic_bytes() -> None:
    assert processing.sniff(create_jpeg()) is processing.JPEG
    assert processing.sniff(create_png()) is processing.PNG


@pytest.mark.parametrize(
    ("pillow_format", "detected"),
    [("GIF", "image/gif"), ("WEBP", "image/webp"), ("BMP", "image/bmp"), ("TIFF", "image/tiff")],
)
def test_sniff_refuses_other_formats_and_names_them(pillow_format: str, detected: str) -> None:
    with pytest.raises(UnsupportedImageType) as refused:
        processing.sniff(create_in_format(pillow_format))
    assert refused.value.details["detected"] == detected


def test_prepare_is_deterministic() -> None:
    photo = create_jpeg((300, 200))
    assert processing.prepare(photo, max_side=1024) == processing.prepare(photo, max_side=1024)


def test_cmyk_jpeg_is_prepared_as_rgb() -> None:
    prepared = processing.prepare(create_jpeg(mode="CMYK"), max_side=1024)
    assert decode(prepared.data).mode == "RGB"


def test_palette_png_keeps_its_transparency() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0, 0, 255, 0])
    prepared = processing.prepare(encode(image, "PNG", transparency=0), max_side=1024)
    kept = decode(prepared.data)
    assert kept.mode == "P"
    assert kept.info["transparency"] == 0


def test_downscaled_palette_png_is_resampled_in_colour() -> None:
    image = Image.new("P", (400, 200), 1)
    image.putpalette([255, 0, 0, 0, 255, 0])
    prepared = processing.prepare(encode(image, "PNG", transparency=0), max_side=100)
    scaled = decode(prepared.data)
    assert scaled.size == (100, 50)
    assert scaled.mode == "RGBA"
    assert scaled.getpixel((50, 25)) == (0, 255, 0, 255)


def test_sixteen_bit_png_makes_a_thumbnail() -> None:
    deep = encode(Image.new("I;16", (300, 300), 40000), "PNG")
    thumbnail = decode(processing.render_thumbnail(deep, processing.PNG, 64))
    assert thumbnail.size == (64, 64)
    assert thumbnail.mode == "I;16"
    assert thumbnail.getpixel((32, 32)) == 40000


def test_colour_profile_is_kept() -> None:
    profile = b"\x00\x00\x02\x0cfake-icc-profile-bytes"
    photo = encode(Image.new("RGB", (20, 20)), "JPEG", icc_profile=profile)
    prepared = processing.prepare(photo, max_side=1024)
    assert decode(prepared.data).info["icc_profile"] == profile


def test_jpeg_decoded_at_reduced_scale_still_fills_the_size() -> None:
    prepared = processing.prepare(create_jpeg((4000, 3000)), max_side=1024)
    assert (prepared.width, prepared.height) == (1024, 768)


def test_pixel_limit_is_checked_before_decoding() -> None:
    with pytest.raises(ImageTooManyPixels):
        processing.decode(png_claiming(7000, 6000), processing.PNG)


def test_image_at_the_pixel_limit_decodes() -> None:
    exact = encode(Image.new("1", (8000, 5000)), "PNG")  # 40,000,000 pixels, one bit each
    assert processing.decode(exact, processing.PNG).size == (8000, 5000)


def test_bytes_of_another_format_than_sniffed_are_invalid() -> None:
    with pytest.raises(InvalidImage):
        processing.decode(create_png(), processing.JPEG)
