"""osc-player: a fullscreen digital-signage player for public screens."""

__version__ = "0.1.0"
