#!/usr/bin/env python3
"""Draw the BookInfo avatar (static/img/izzy.png): a round, flat-style reader figure.

Pure standard library (zlib + struct), so it regenerates anywhere:
    python3 productpage/scripts/make_avatar.py productpage/static/img/izzy.png
"""
import math
import struct
import sys
import zlib

SIZE = 96
SS = 4  # supersampling per axis, for smooth edges

BG = (59, 91, 165)        # navy blue disc
SKIN = (246, 205, 170)
HAIR = (63, 42, 32)
SHIRT = (242, 176, 53)    # amber sweater
BOOK = (255, 255, 255)
EYE = (40, 40, 48)


def inside_circle(x, y, cx, cy, r):
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def colour_at(x, y):
    """Colour of the figure at (x, y) in 0..SIZE coordinates, or None outside the disc."""
    c = SIZE / 2
    if not inside_circle(x, y, c, c, c - 0.5):
        return None
    col = BG
    # Shoulders: a large circle clipped by the disc.
    if inside_circle(x, y, c, SIZE * 1.02, SIZE * 0.42):
        col = SHIRT
    # Open book held in front of the chest.
    if SIZE * 0.30 <= x <= SIZE * 0.70 and SIZE * 0.74 <= y <= SIZE * 0.90:
        col = BOOK
        if abs(x - c) < 0.9:
            col = (200, 210, 230)
    # Neck.
    if abs(x - c) < SIZE * 0.07 and SIZE * 0.52 <= y <= SIZE * 0.66:
        col = (230, 185, 150)
    # Hair behind the head, then the face.
    if inside_circle(x, y, c, SIZE * 0.40, SIZE * 0.215):
        col = HAIR
    if inside_circle(x, y, c, SIZE * 0.43, SIZE * 0.18):
        col = SKIN
        # Fringe.
        if y < SIZE * 0.35 and inside_circle(x, y, c + SIZE * 0.03, SIZE * 0.27, SIZE * 0.17):
            col = HAIR
        # Eyes.
        for ex in (c - SIZE * 0.065, c + SIZE * 0.065):
            if inside_circle(x, y, ex, SIZE * 0.44, SIZE * 0.022):
                col = EYE
        # Smile: a thin arc.
        d = math.hypot(x - c, y - SIZE * 0.46)
        if abs(d - SIZE * 0.075) < SIZE * 0.012 and y > SIZE * 0.49:
            col = (190, 90, 80)
    return col


def render():
    rows = []
    for py in range(SIZE):
        row = bytearray([0])  # filter type 0
        for px in range(SIZE):
            acc = [0, 0, 0, 0]
            for sy in range(SS):
                for sx in range(SS):
                    col = colour_at(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
                    if col is not None:
                        acc[0] += col[0]
                        acc[1] += col[1]
                        acc[2] += col[2]
                        acc[3] += 255
            n = SS * SS
            covered = acc[3] // 255
            if covered:
                row += bytes([acc[0] // covered, acc[1] // covered, acc[2] // covered, acc[3] // n])
            else:
                row += bytes([0, 0, 0, 0])
        rows.append(bytes(row))
    return b"".join(rows)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def main(path):
    ihdr = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    png += chunk(b"IDAT", zlib.compress(render(), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "izzy.png")
