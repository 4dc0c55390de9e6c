"""``python -m faceguard`` runs the command line."""

from faceguard.cli.main import main

main()
