"""The library's case kinds: typical cases, classroom sessions, volunteers and their help."""
