"""What SuiteCRM does to text: the tag stripping of varchar fields on save.

Q13: SuiteCRM runs char fields through its HTML cleaner when a bean is saved
(``SugarBean::cleanBean`` in salesagility/SuiteCRM); what the recorded server left
is the text outside ``<...>``.  The sandbox applies it, the importer compares names
as SuiteCRM will store them, and write-back stores feed text the same way.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"<[^>]*>")


def strip_tags(value: str, *, replacement: str = "") -> str:
    """``value`` without anything between ``<`` and ``>``, as a varchar is stored."""
    return _TAG.sub(replacement, value)
