"""The web interface: sign-in sessions, pages people open, share links."""
