"""The library's ``deteval`` commands: ``evaluate``, ``check`` and ``compare``."""
