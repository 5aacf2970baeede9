"""One matplotlib figure that :func:`~sysmon_magic.plot` draws into again and again, as PNG.

The explorer keeps one and redraws it on every change, so that its axes keep their tick artists
instead of building new ones (a third of a redraw), and sends the plot as a PNG: an SVG would
cost the kernel less, but a browser without a GPU takes over half a second to draw one of 20 x
2,000 points, against 30 ms for the PNG. No widgets here: matplotlib and Pillow only.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from .plotting import legend_height, plot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PlotFigure", "clear_plot"]

_WIDTH_INCHES = 10.0
_AXES_INCHES = 2.66  # the plot's own height; the legend under it adds to the figure's
_TOP_INCHES = 0.36  # room for a "Showing 30 of 96" note
_BOTTOM_INCHES = 0.58  # tick labels and the time axis' label
_Z_RLE = 3  # zlib's run-length strategy: plots are long runs of the same colour
_DPI = 96


class PlotFigure:
    """A bare figure (not pyplot's: nothing kept in its registry or shown twice inline) with
    fixed margins in inches, which grows by the height of the legend under its plot.

    Attributes
    ----------
    figure
        The matplotlib ``Figure``; ``figure.axes[0]`` holds the plot.
    """

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.transforms import blended_transform_factory

        height = _TOP_INCHES + _AXES_INCHES + _BOTTOM_INCHES
        self.figure: Figure = Figure(figsize=(_WIDTH_INCHES, height), dpi=_DPI)
        FigureCanvasAgg(self.figure)
        axes = self.figure.add_subplot()
        # Axis labels at fixed places (the margins are fixed too), so that a redraw need not
        # measure every tick label to place them: the time label just under the tick labels,
        # the value label at the figure's left edge.
        axes.xaxis.set_label_coords(0.5, -0.27 / _AXES_INCHES)
        axes.yaxis.set_label_coords(
            0.015, 0.5, transform=blended_transform_factory(self.figure.transFigure, axes.transAxes)
        )

    def draw(self, frame: pd.DataFrame | None, *, message: str = "", **options: Any) -> None:
        """Draw ``frame`` with :func:`~sysmon_magic.plot` (``options`` are its own) in place of
        what was drawn; with ``frame=None``, an empty plot that says ``message``."""
        axes = self.figure.axes[0]
        clear_plot(axes)
        if frame is not None:
            plot(frame, ax=axes, **options)
        else:
            axes.text(0.5, 0.5, message, ha="center", transform=axes.transAxes)
            # No ticks, and no date formatter left to label none (it fails on an empty list);
            # plot() sets its own again when there is something to draw.
            from matplotlib.ticker import NullFormatter, NullLocator

            for axis in (axes.xaxis, axes.yaxis):
                axis.set_major_locator(NullLocator())
                axis.set_major_formatter(NullFormatter())
        # Fixed margins in inches, not a layout engine: constrained layout doubles the cost of a
        # redraw. The figure grows by the legend's height, so the plot keeps its own.
        below = _BOTTOM_INCHES + legend_height(axes)
        height = _TOP_INCHES + _AXES_INCHES + below
        if self.figure.get_figheight() != height:
            self.figure.set_figheight(height)
        self.figure.subplots_adjust(
            left=0.08, right=0.98, bottom=below / height, top=1 - _TOP_INCHES / height
        )

    def png(self) -> bytes:
        """The figure as a PNG: drawn by Agg and encoded by Pillow directly (savefig's
        bookkeeping costs more than the encoding), with fast run-length zlib (2x faster than
        the default, ~15 % larger). RGBA, as savefig writes it: a style may make it transparent."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        canvas = self.figure.canvas
        assert isinstance(canvas, FigureCanvasAgg)  # __init__ attached it
        canvas.draw()
        size = canvas.get_width_height()
        image = Image.frombuffer("RGBA", size, canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1, compress_type=_Z_RLE)
        return buffer.getvalue()


def clear_plot(axes: Axes) -> None:
    """Remove what :func:`~sysmon_magic.plot` drew, keeping the axes' ticks (cheaper than cla())."""
    for artist in [*axes.lines, *axes.texts]:
        artist.remove()
    if (legend := axes.get_legend()) is not None:
        legend.remove()
    for loc in ("left", "center", "right"):
        axes.set_title("", loc=loc)
    axes.set_ylabel("")
    axes.relim()
    # A new figure's limits, so that nothing to draw (no series, only NaN) shows no old ones.
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_autoscale_on(True)
