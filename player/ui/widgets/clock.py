"""Clock/date widget in the screen's language (German by default): the ClockView of the renderer, configured by
the widget's options (`format`, `date_format`, `timezone`, `font_size`, `color`, `bold`, `align`)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from player.model import ClockItem, HAlign, TextStyle, VAlign, WidgetItem
from player.ui.items import ClockView, ItemView, RenderContext


def clock_item(item: WidgetItem) -> ClockItem:
    o = item.options or {}

    def text(key: str, default: str | None) -> str | None:
        value = o.get(key, default)
        return value if isinstance(value, str) and 0 < len(value) <= 64 else default

    size = o.get("font_size")
    align = o.get("align")
    return ClockItem(
        id=item.id, duration=item.duration, validity=item.validity,
        format=text("format", "HH:mm") or "HH:mm", date_format=text("date_format", "dddd, d. MMMM yyyy"),
        timezone=text("timezone", None),
        style=TextStyle(font_size=int(size) if isinstance(size, int | float) and 6 <= size <= 1000 else 160,
                        color=text("color", "#ffffff") or "#ffffff", background=text("background", None),
                        bold=o.get("bold", True) is not False,
                        align=HAlign(align) if align in ("left", "center", "right") else HAlign.CENTER,
                        valign=VAlign.MIDDLE))


class ClockWidget(ItemView):
    """Holds a ClockView (which repaints exactly on the minute) filling the widget."""

    item: WidgetItem

    def __init__(self, item: WidgetItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self.clock = ClockView(clock_item(item), ctx, self)

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self.clock.setGeometry(self.rect())

    def start(self) -> None:
        super().start()
        self.clock.setGeometry(self.rect())
        self.clock.start()

    def stop(self) -> None:
        self.clock.stop()
        super().stop()
