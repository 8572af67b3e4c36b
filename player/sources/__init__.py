"""Where a screen's configuration comes from. Every source produces the same model (``player.model.Screen``)."""
