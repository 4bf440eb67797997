"""Maestro: an offline voice (and NFC) remote for Spotify Connect."""

__version__ = "0.1.0"
