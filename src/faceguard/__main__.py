"""``python -m faceguard`` runs the command line."""

from .cli import main

main()
