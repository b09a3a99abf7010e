"""The ``dscrm`` command tree (placeholder; filled in below)."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """dscrm-bridge."""


if __name__ == "__main__":
    main()
