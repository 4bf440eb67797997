"""The device-flow bridge: RFC 8628 for any Spotify app, in front of Authorization Code + PKCE."""
