"""Checks on a decoded ONNX protobuf that the protobuf library itself does not make.

ONNX is a proto2 schema, and proto2 does not require ``string`` fields to hold UTF-8: a byte-flipped
model decodes, and the Python protobuf runtime then hands out ``bytes`` where every caller expects
``str`` (a node name, an op type, an input name). Nothing downstream should have to defend against
that, so the importer refuses such a model once, right after decoding, naming the field.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from qcc.errors import ModelImportError


def non_text_field(message: Message, where: str = "model") -> str | None:
    """The path of the first ``string`` field in ``message`` (or a message inside it) that did not
    decode to text, or None when every string field is text."""
    for field, value in message.ListFields():
        path = f"{where}.{field.name}"
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            for index, item in enumerate(values):
                if not isinstance(item, str):
                    return f"{path}[{index}]" if field.is_repeated else path
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                continue  # ONNX has no map fields of text; skip rather than guess their layout
            for index, item in enumerate(values):
                found = non_text_field(item, f"{path}[{index}]" if field.is_repeated else path)
                if found is not None:
                    return found
    return None


def check_text_fields(message: Message, source: str) -> None:
    """Raise a one-line error when a text field of a decoded model is not valid UTF-8."""
    found = non_text_field(message)
    if found is not None:
        raise ModelImportError(f"'{source}' is not a valid ONNX model (text field {found} is not valid UTF-8)")

