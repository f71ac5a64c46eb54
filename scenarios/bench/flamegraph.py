"""A flame graph (SVG) from py-spy's collapsed stacks (`frame;frame;…;leaf count` per line).

py-spy writes one format per recording; the benchmark records the raw (collapsed) form, which
`pyspy.summarise` reads for the printed top frames, and draws the SVG from the same file here, so
one recording gives both. Each frame is a box as wide as its share of the samples, callers below
callees; hovering shows the frame and its share (the SVG `<title>`).
"""

from __future__ import annotations

import html
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from scenarios.bench.pyspy import parse_collapsed

WIDTH = 1200
ROW = 16
MIN_WIDTH_PX = 0.5  # narrower boxes are not drawn (they would not be visible anyway)


@dataclass
class _Node:
    name: str
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: list[tuple[list[str], int]]) -> _Node:
    root = _Node("all")
    for frames, count in stacks:
        root.count += count
        node = root
        for frame in frames:
            node = node.children.setdefault(frame, _Node(frame))
            node.count += count
    return root


def _colour(name: str) -> str:
    """Warm colours, stable per frame name (the same function has the same colour in every
    graph of a run)."""
    h = zlib.crc32(name.encode())
    return f"rgb({205 + h % 50},{80 + (h >> 8) % 120},{40 + (h >> 16) % 50})"


def _depth(node: _Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def render_svg(stacks: list[tuple[list[str], int]], title: str) -> str:
    root = _tree(stacks)
    rows = _depth(root)
    height = (rows + 2) * ROW
    scale = WIDTH / root.count if root.count else 0.0
    boxes: list[str] = []

    def draw(node: _Node, x: float, depth: int) -> None:
        width = node.count * scale
        if width < MIN_WIDTH_PX:
            return
        y = height - (depth + 1) * ROW
        share = node.count / root.count
        label = html.escape(node.name)
        text = label if width > 40 else ""
        boxes.append(
            f"<g><title>{label} — {node.count} samples, {share:.1%}</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" '
            f'fill="{_colour(node.name)}"/>'
            f'<text x="{x + 3:.1f}" y="{y + ROW - 4}" clip-path="inset(0 0 0 0)">'
            f"{text[: max(0, int(width / 7))]}</text></g>"
        )
        child_x = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, child_x, depth + 1)
            child_x += child.count * scale

    if root.count:
        draw(root, 0.0, 0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">'
        f'<text x="4" y="{ROW - 3}" font-size="13">{html.escape(title)} '
        f"({root.count} samples)</text>{''.join(boxes)}</svg>\n"
    )


def write_flamegraph(raw_path: Path, svg_path: Path, title: str) -> Path:
    stacks = parse_collapsed(raw_path.read_text(encoding="utf-8", errors="replace"))
    svg_path.write_text(render_svg(stacks, title), encoding="utf-8")
    return svg_path
