"""NFC cards: readers (nfcpy, keyboard wedge, scripted), what a tap means, tags.yaml, `tags learn`."""
