"""Localized workflows and imports: Chinese labels in, SuiteCRM keys out."""
