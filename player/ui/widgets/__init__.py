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

import logging

from PySide6.QtWidgets import QWidget

from player.model import Item, WidgetItem
from player.ui.items import VIEW_FACTORIES, ItemView, RenderContext
from player.ui.widgets.base import LiveWidget, say_once
from player.ui.widgets.clock import ClockWidget
from player.ui.widgets.departures import DepartureBoard
from player.ui.widgets.empty import EmptyTile
from player.ui.widgets.events import EventList
from player.ui.widgets.news import NewsList, NewsTicker
from player.ui.widgets.places import PlaceList, PlaceMap
from player.ui.widgets.sensors import SensorPanel
from player.ui.widgets.strings import wtext
from player.ui.widgets.twin import TwinMessageList
from player.ui.widgets.warnings import WarningBanner, WarningScreen, WarningView
from player.ui.widgets.weather import WeatherPanel

log = logging.getLogger(__name__)

WIDGET_VIEWS: dict[str, type[ItemView]] = {
    "departures": DepartureBoard,
    "weather": WeatherPanel,
    "news": NewsList,
    "news_ticker": NewsTicker,
    "events": EventList,
    "sensors": SensorPanel,
    "warnings": WarningView,
    "warning_banner": WarningBanner,
    "warning_screen": WarningScreen,
    "twin_messages": TwinMessageList,
    "pois": PlaceList,
    "map": PlaceMap,
    "clock": ClockWidget,
    "empty": EmptyTile,
}


def make_widget_view(item: Item, ctx: RenderContext, parent: QWidget) -> ItemView:
    """The view for a WidgetItem; kinds without a view here (image) get a neutral tile."""
    if not isinstance(item, WidgetItem):  # pragma: no cover - the registry only routes widget items here
        return EmptyTile(WidgetItem(id=item.id), ctx, parent)
    cls = WIDGET_VIEWS.get(item.widget)
    if cls is None:
        say_once(f"kind:{item.widget}", "widget '%s' of kind '%s' cannot be shown by this installation; a neutral "
                 "tile is shown", item.id, item.widget)
        return EmptyTile(item, ctx, parent, message=wtext("widget_unavailable", ctx.locale))
    return cls(item, ctx, parent)  # type: ignore[call-arg]


VIEW_FACTORIES["widget"] = make_widget_view

__all__ = ["WIDGET_VIEWS", "ClockWidget", "DepartureBoard", "EmptyTile", "EventList", "LiveWidget", "NewsList",
           "NewsTicker", "SensorPanel", "TwinMessageList", "WarningBanner", "WarningScreen", "WarningView",
           "WeatherPanel", "make_widget_view"]
