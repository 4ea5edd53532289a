"""System (c): the smallest Channels broadcast, the reference for what the stack costs."""
