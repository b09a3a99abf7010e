"""The sync over the story database on MariaDB."""
