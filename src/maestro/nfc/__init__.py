"""NFC cards: tag parsing, the tags.yaml mapping, second taps (readers come with the daemon)."""
