"""The ``faceguard`` command: a thin shell over ``Faceguard``. ``cli.main`` holds the group
and ``init``; ``cli.common`` what every group shares; one module per command group.

May import: the api and the public types; the service only to run it (``serve``). Never the
store, the database or SQLAlchemy (an import-linter contract in pyproject.toml).
"""
