"""The box: what runs on the device itself around the voice, the cards and Spotify (the daemon's
one-per-box lock and the status it leaves for ``maestro status``)."""
