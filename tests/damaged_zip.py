"""Damage to one field of an ``.npz``'s central directory, the kinds the long fuzz run found: the
directory still parses, but ``zipfile`` refuses to open the member with an error that is neither
``BadZipFile`` nor ``OSError``."""

from __future__ import annotations

import struct
from pathlib import Path

CENTRAL_ENTRY = b"PK\x01\x02"
DAMAGES = {
    # name: (offset in the central directory entry, little-endian u16 written there)
    "zip version 6.4 needed": (6, 64),  # NotImplementedError: zip file version 6.4
    "encrypted flag": (8, 1),  # RuntimeError: ... is encrypted, password required
    "patched-data flag": (8, 1 << 5),  # NotImplementedError: compressed patched data
    "unknown compression method": (10, 99),  # NotImplementedError: compression method not supported
}


def damage_first_member(path: Path, damage: str) -> None:
    """Overwrite one field of the first member's central directory entry of the zip at ``path``."""
    data = bytearray(path.read_bytes())
    offset, value = DAMAGES[damage]
    struct.pack_into("<H", data, data.index(CENTRAL_ENTRY) + offset, value)
    path.write_bytes(bytes(data))
