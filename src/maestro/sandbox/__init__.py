"""A local stand-in for Spotify's accounts service and Web API (tests and the demo)."""
