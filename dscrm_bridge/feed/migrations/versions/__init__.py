"""One file per schema revision of the bridge's database."""
