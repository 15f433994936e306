"""Nothing to load: the starttls-mock package registers its pytest plugin
itself. Fixtures of this project would go here."""
