"""Chatter's load harness (``make bench``): see ``bench/README.md``."""
