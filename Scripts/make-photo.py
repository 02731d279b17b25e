#!/usr/bin/env python3
"""Writes a PNG "photo" for the demo and the page checks: a sky-to-field gradient with grain, so
it looks like a picture, does not compress much, and is the same bytes for the same seed.

Usage: Scripts/make-photo.py OUT.png [WIDTH HEIGHT SEED]   (default 480 360 1)
"""
import random
import struct
import sys
import zlib

out = sys.argv[1]
width, height, seed = (int(arg) for arg in (sys.argv[2:5] if len(sys.argv) >= 5 else ("480", "360", "1")))
rng = random.Random(seed)
rows = []
for y in range(height):
    row = bytearray([0])  # filter: none
    for x in range(width):
        grain = rng.randrange(-40, 41)
        if y < height * 0.55:  # sky
            r, g, b = 110 + y // 4, 160 + y // 5, 235
        else:  # a playground's green, lines every 60 px
            r, g, b = (235, 235, 235) if x % 60 < 3 else (70, 150 - (y - height // 2) // 6, 60)
        row += bytes(max(0, min(255, c + grain)) for c in (r, g, b))
    rows.append(bytes(row))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
with open(out, "wb") as f:
    f.write(png)
