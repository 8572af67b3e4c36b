"""Live-data widgets, one module per widget. Importing this package registers the item kind "widget" in
player.ui.items.VIEW_FACTORIES; the factory dispatches on ``WidgetItem.widget``.

| widget        | view                              | feed value                     |
|---------------|-----------------------------------|--------------------------------|
| departures    | DepartureBoard                    | Departures                     |
| weather       | WeatherPanel                      | WeatherReport                  |
| news          | NewsList                          | PressReleases / GenericItems   |
| news_ticker   | NewsTicker                        | PressReleases / GenericItems   |
| events        | EventList                         | Events                         |
| sensors       | SensorPanel                       | SensorReadings                 |
| warnings      | WarningView (banner or screen)    | Warnings                       |
| twin_messages | TwinMessageList (list or strip)   | TwinMessages                   |
| pois          | PlaceList                         | Places                         |
| map           | PlaceMap (overview, not a street map) | Places                     |
| clock         | ClockWidget                       | -                              |
| empty         | EmptyTile                         | -                              |
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator, Mapping

from PySide6.QtWidgets import QWidget

from player.model import Item, Layout, WidgetItem
from player.ui.items import VIEW_FACTORIES, ItemView, RenderContext
from player.ui.widgets.base import LiveWidget, say_once
from player.ui.widgets.empty import EmptyTile
from player.ui.widgets.strings import wtext

log = logging.getLogger(__name__)

# kind -> (module, class): a view's module (and the feed module it reads) is imported when a screen first uses the
# kind, on the content thread (preload_widget_views) or else on the GUI thread at the first view; a screen without
# a map or digital-twin messages does not carry their code (measured: docs/performance.md)
_WIDGET_CLASSES: dict[str, tuple[str, str]] = {
    "departures": ("departures", "DepartureBoard"),
    "weather": ("weather", "WeatherPanel"),
    "news": ("news", "NewsList"),
    "news_ticker": ("news", "NewsTicker"),
    "events": ("events", "EventList"),
    "sensors": ("sensors", "SensorPanel"),
    "warnings": ("warnings", "WarningView"),
    "warning_banner": ("warnings", "WarningBanner"),
    "warning_screen": ("warnings", "WarningScreen"),
    "twin_messages": ("twin", "TwinMessageList"),
    "pois": ("places", "PlaceList"),
    "map": ("places", "PlaceMap"),
    "clock": ("clock", "ClockWidget"),
    "empty": ("empty", "EmptyTile"),
}


def widget_view(kind: str) -> type[ItemView] | None:
    """The view class for a widget kind (its module imported now if it was not), or None for an unknown kind."""
    where = _WIDGET_CLASSES.get(kind)
    if where is None:
        return None
    module = importlib.import_module(f"{__name__}.{where[0]}")
    view: type[ItemView] = getattr(module, where[1])
    return view


class _WidgetViews(Mapping[str, type[ItemView]]):
    """``WIDGET_VIEWS[kind]``: the view class, its module imported on first access."""

    def __getitem__(self, kind: str) -> type[ItemView]:
        view = widget_view(kind)
        if view is None:
            raise KeyError(kind)
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(_WIDGET_CLASSES)

    def __len__(self) -> int:
        return len(_WIDGET_CLASSES)

    def __contains__(self, kind: object) -> bool:
        return kind in _WIDGET_CLASSES


WIDGET_VIEWS: Mapping[str, type[ItemView]] = _WidgetViews()


def preload_widget_views(layouts: Iterable[Layout], also: Iterable[str] = ()) -> None:
    """Imports the view modules of the widget kinds in ``layouts`` and of the kinds ``also`` (call it off the GUI
    thread). An unknown kind is left for make_widget_view, which shows a neutral tile."""
    kinds = {item.widget for layout in layouts for zone in layout.zones for item in zone.items
             if isinstance(item, WidgetItem)} | set(also)
    for kind in sorted(kinds):
        widget_view(kind)


def make_widget_view(item: Item, ctx: RenderContext, parent: QWidget) -> ItemView:
    """The view for a WidgetItem; kinds without a view here (image) get a neutral tile."""
    if not isinstance(item, WidgetItem):  # pragma: no cover - the registry only routes widget items here
        return EmptyTile(WidgetItem(id=item.id), ctx, parent)
    cls = widget_view(item.widget)
    if cls is None:
        say_once(f"kind:{item.widget}", "widget '%s' of kind '%s' cannot be shown by this installation; a neutral "
                 "tile is shown", item.id, item.widget)
        return EmptyTile(item, ctx, parent, message=wtext("widget_unavailable", ctx.locale))
    return cls(item, ctx, parent)  # type: ignore[call-arg]


VIEW_FACTORIES["widget"] = make_widget_view


def __getattr__(name: str) -> type[ItemView]:
    """``from player.ui.widgets import DepartureBoard`` still works: the class's module is imported then."""
    for module, cls in _WIDGET_CLASSES.values():
        if cls == name:
            view: type[ItemView] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
            return view
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["WIDGET_VIEWS", "ClockWidget", "DepartureBoard", "EmptyTile", "EventList", "LiveWidget", "NewsList",
           "NewsTicker", "PlaceList", "PlaceMap", "SensorPanel", "TwinMessageList", "WarningBanner", "WarningScreen",
           "WarningView", "WeatherPanel", "make_widget_view", "preload_widget_views", "widget_view"]
