"""The electronic seal: the round red stamp of the signature, and the place on the page reserved for it.

An official reads a seal, not a signature algorithm: the stamp is drawn the way a Chinese
organization's seal looks — a red ring, the supervising body's name around its upper rim, a
five-pointed star in the middle and 产权登记专用章 under it. It is the signature widget's
appearance (documents/signing.py), so it appears exactly where the PDF is signed; the page
itself marks that place with a dashed ring and the words 电子签章, which the stamp covers
once signed, and the issuing authority's name and date beside it, as under a paper seal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm

from documents.typeset import TypedFlowable, Typesetter

SEAL_RED = colors.Color(0.84, 0.08, 0.08)
SEAL_SIZE = 40 * mm  # the stamp and the reserved place are this square
SEAL_PURPOSE = "产权登记专用章"
CAPTION_GREY = colors.Color(0.55, 0.55, 0.55)
MAX_RIM_DEGREES = 250.0


def _star_path(canv: Any, cx: float, cy: float, outer: float) -> Any:
    inner = outer * 0.382
    path = canv.beginPath()
    for n in range(10):
        radius = outer if n % 2 == 0 else inner
        angle = math.radians(90 + n * 36)
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        if n == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    return path


def draw_round_seal(canv: Any, ts: Typesetter, centre: tuple[float, float], radius: float, name: str) -> None:
    """The stamp centred at `centre`: ring, `name` around the upper rim, star, 产权登记专用章."""
    cx, cy = centre
    canv.saveState()
    canv.setStrokeColor(SEAL_RED)
    canv.setFillColor(SEAL_RED)
    canv.setLineWidth(radius * 0.06)
    canv.circle(cx, cy, radius * 0.95, stroke=1, fill=0)
    canv.drawPath(_star_path(canv, cx, cy + radius * 0.03, radius * 0.26), stroke=0, fill=1)
    _rim_text(canv, ts, centre, radius, name)
    size = radius * 0.19
    canv.setFont(ts.font, size)
    ts.draw(canv, cx, cy - radius * 0.52, SEAL_PURPOSE, align="center")
    canv.restoreState()


def _rim_text(canv: Any, ts: Typesetter, centre: tuple[float, float], radius: float, name: str) -> None:
    """The characters of `name` along the upper rim, left to right, each upright towards the centre."""
    cx, cy = centre
    chars = list(name.strip()) or [" "]
    text_radius = radius * 0.70
    size = radius * 0.27
    step = math.degrees(size * 1.12 / text_radius)
    if step * (len(chars) - 1) > MAX_RIM_DEGREES - step:  # a long name: smaller characters, closer together
        step = (MAX_RIM_DEGREES - step) / max(len(chars) - 1, 1)
        size = min(size, math.radians(step) * text_radius / 1.05)
    start = 90 + step * (len(chars) - 1) / 2
    canv.setFont(ts.font, size)
    for n, char in enumerate(chars):
        angle = start - n * step
        canv.saveState()
        canv.translate(
            cx + text_radius * math.cos(math.radians(angle)), cy + text_radius * math.sin(math.radians(angle))
        )
        canv.rotate(angle - 90)
        ts.draw(canv, 0, -size * 0.36, char, align="center")
        canv.restoreState()


def draw_seal_place(canv: Any, ts: Typesetter, x: float, y: float, size: float = SEAL_SIZE) -> None:
    """The reserved square at (x, y): a dashed ring and 电子签章 under it, covered by the stamp once signed."""
    canv.saveState()
    canv.setStrokeColor(SEAL_RED)
    canv.setDash(2, 2)
    canv.setLineWidth(0.6)
    canv.circle(x + size / 2, y + size / 2, size * 0.88 / 2, stroke=1, fill=0)  # under the stamp's ring
    canv.setDash()
    canv.setFillColor(CAPTION_GREY)
    canv.setFont(ts.font, 8)
    ts.draw(canv, x + size / 2, y - 10, "（电子签章）", align="center")
    canv.restoreState()


def draw_signature(
    canv: Any, ts: Typesetter, corner: tuple[float, float], lines: Sequence[str], size: float
) -> tuple[float, float, float, float]:
    """The seal's place left of `corner`, authority and date right-aligned under its left edge; returns the box.

    As under a paper seal, the ring touches the end of the lines but leaves them readable (the
    star never covers them). `corner` is the lower right of the block, its bottom the caption under
    the ring; the box is in the canvas's current coordinates.
    """
    right, bottom = corner
    seal_x = right - SEAL_SIZE
    seal_y = bottom + 14
    middle = seal_y + SEAL_SIZE / 2
    leading = size * 1.8
    text_right = seal_x + SEAL_SIZE * 0.12
    canv.saveState()
    canv.setFont(ts.font, size)
    canv.setFillColor(colors.black)
    top = middle + leading * (len(lines) - 1) / 2 - size * 0.35
    for n, line in enumerate(lines):
        ts.draw(canv, text_right, top - n * leading, line, align="right")
    canv.restoreState()
    draw_seal_place(canv, ts, seal_x, seal_y)
    return seal_x, seal_y, seal_x + SEAL_SIZE, seal_y + SEAL_SIZE


class SignatureBlock(TypedFlowable):
    """The form's closing lines with the seal's place; remembers in `sink` on which page and where it landed."""

    def __init__(self, lines: Sequence[str], ts: Typesetter, size: float, sink: dict[str, Any]) -> None:
        super().__init__()
        self.lines = list(lines)
        self.ts = ts
        self.size = size
        self.sink = sink

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        self.height = SEAL_SIZE + 14  # and the caption under the ring
        return self.width, self.height

    def draw(self) -> None:
        canv: Any = self.canv
        x1, y1, x2, y2 = draw_signature(canv, self.ts, (self.width - 2 * mm, 0), self.lines, self.size)
        left, low = canv.absolutePosition(x1, y1)
        self.sink["page"] = canv.getPageNumber() - 1
        self.sink["box"] = (left, low, left + (x2 - x1), low + (y2 - y1))
