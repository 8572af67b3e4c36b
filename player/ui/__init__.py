"""Everything Qt. Nothing outside this package imports Qt."""
