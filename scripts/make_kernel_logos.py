#!/usr/bin/env python3
"""Draws the Jupyter kernel logos kernel/logo-32x32.png and kernel/logo-64x64.png: two
intertwined strands (a helix) on a rounded teal tile. Standard library only (PNG = zlib-
compressed RGBA scanlines, PNG specification ISO/IEC 15948). Run from the repository root."""
import math
import struct
import zlib

TILE = (18, 110, 120)
STRANDS = ((250, 200, 60), (240, 240, 240))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel(x, y, size):
    """RGBA at the centre of pixel (x, y) of a size×size logo."""
    u, v = (x + 0.5) / size, (y + 0.5) / size
    radius = 0.18
    dx, dy = max(abs(u - 0.5) - (0.5 - radius), 0), max(abs(v - 0.5) - (0.5 - radius), 0)
    if math.hypot(dx, dy) > radius:
        return (0, 0, 0, 0)
    for phase, colour in zip((0.0, math.pi), STRANDS):
        centre = 0.5 + 0.28 * math.sin(2 * math.pi * 1.5 * v + phase)
        if abs(u - centre) < 0.07:
            return colour + (255,)
    return TILE + (255,)


def png(size):
    rows = b"".join(b"\x00" + bytes(c for x in range(size) for c in pixel(x, y, size)) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


for size in (32, 64):
    with open(f"kernel/logo-{size}x{size}.png", "wb") as out:
        out.write(png(size))
