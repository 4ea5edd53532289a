"""Images of attachments: checked, re-encoded without metadata, and thumbnailed (Pillow).

What members download is never the uploaded file itself: the image is decoded and
encoded again with its orientation applied and without its metadata (EXIF, GPS position,
comments, XMP), so a photo does not tell where it was taken. Its size in pixels is read
from the header and refused over ``CHATTER_MAX_IMAGE_PIXELS`` before anything is
decoded; Pillow's own decompression-bomb guard (``DecompressionBombWarning``) counts as
a refusal too.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from chatter import conf

#: Pillow's format name for each raster type served inline.
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class ImageRefused(ValueError):
    """An image that cannot be accepted; ``str(exc)`` is a sentence to show the sender."""


@dataclass
class Processed:
    """An image ready to store: the re-encoded file and its thumbnail (None: the image is
    small enough to be its own)."""

    data: bytes
    width: int
    height: int
    thumb: bytes | None
    thumb_width: int
    thumb_height: int


def _open(data: bytes) -> Image.Image:
    """The image of ``data``, its header read (not decoded), or :class:`ImageRefused`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRefused(_("This image is too large.")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageRefused(_("This image cannot be read.")) from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > conf.get("CHATTER_MAX_IMAGE_PIXELS"):
        raise ImageRefused(_("This image is too large."))
    return image


def _encode(image: Image.Image, fmt: str, save_all: bool = False) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options = {"quality": 90, "optimize": True}
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif fmt == "WEBP":
        options = {"quality": 90}
    if save_all:
        options["save_all"] = True
    # No exif=, icc_profile= or pnginfo=: nothing of the original's metadata is written.
    image.save(out, fmt, **options)
    return out.getvalue()


def process(data: bytes, content_type: str) -> Processed:
    """``data`` (an image of ``content_type``) re-encoded without metadata, with its
    orientation applied, and a thumbnail that fits ``CHATTER_THUMBNAIL_SIZE``.

    Raises :class:`ImageRefused` for an image too large (``CHATTER_MAX_IMAGE_PIXELS`` or
    Pillow's bomb guard) or one that cannot be decoded.
    """
    fmt = FORMATS[content_type]
    image = _open(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                # Animations keep their frames; they carry no EXIF orientation to apply.
                clean = _encode(image, fmt, save_all=True)
                first = image.copy()
            else:
                image.load()
                first = ImageOps.exif_transpose(image) or image
                clean = _encode(first, fmt)
            width, height = first.size
            box = tuple(conf.get("CHATTER_THUMBNAIL_SIZE"))
            if width <= box[0] and height <= box[1]:
                return Processed(clean, width, height, None, width, height)
            small = first.copy()
            small.thumbnail(box)
            thumb_fmt = "PNG" if fmt in ("PNG", "GIF") else fmt
            thumb = _encode(small, thumb_fmt)
            return Processed(clean, width, height, thumb, small.width, small.height)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRefused(_("This image is too large.")) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageRefused(_("This image cannot be read.")) from None
    finally:
        image.close()
