"""Chatter: real-time chat for Django projects."""

__version__ = "0.1.0"
