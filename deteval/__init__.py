"""The ``deteval`` command: the one place where the library's, the service's and the
workers' commands meet (see :mod:`deteval.cli`)."""
