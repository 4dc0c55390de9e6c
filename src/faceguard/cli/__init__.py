"""The ``faceguard`` command: a thin shell over ``Faceguard``, a module per command group
(``cli.main`` holds the group and the core commands).

May import: the api, the public types, and (for now) the modules named in
``tests/test_layers.py``'s list of known exceptions. Never the service.
"""
