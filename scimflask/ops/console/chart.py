"""The geometry of the activity chart, drawn by the template as inline SVG.

Computing positions here keeps the template to plain loops and the numbers testable; the page
needs no charting library and no script.
"""

from __future__ import annotations

from dataclasses import dataclass

from .activity import Hour

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


@dataclass(frozen=True)
class Bar:
    hour: Hour
    x: float
    width: float
    requests_y: float
    requests_height: float
    failures_y: float
    failures_height: float
    label: str  # the hour, shown under every few bars


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    right_edge: float
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(hours: list[Hour], width: int = WIDTH, height: int = HEIGHT) -> Chart:
    top_value = nice_ceiling(max((hour.requests for hour in hours), default=0))
    plot_height = height - TOP - BOTTOM
    baseline = height - BOTTOM
    slot = (width - LEFT - RIGHT) / max(len(hours), 1)

    def y(value: int) -> float:
        return round(baseline - plot_height * value / top_value, 1)

    bars = []
    for index, hour in enumerate(hours):
        x = round(LEFT + index * slot + slot * 0.15, 1)
        label = hour.start.strftime("%H:00") if index % 3 == 0 else ""
        bars.append(Bar(hour, x, round(slot * 0.7, 1), y(hour.requests), round(baseline - y(hour.requests), 1),
                        y(hour.failures), round(baseline - y(hour.failures), 1), label))
    # Nice ceilings above 5 are multiples of 5: five steps give round values.
    steps = min(top_value, 5)
    ticks = [(y(top_value * part // steps), top_value * part // steps) for part in range(steps + 1)]
    return Chart(width, height, LEFT, baseline, width - RIGHT, bars, ticks)
