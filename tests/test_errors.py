"""QccError messages stay one line whatever user text they quote."""

from __future__ import annotations

import pytest

from qcc.errors import PipelineError, QccError


@pytest.mark.parametrize("breaker", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\u2028"])
def test_a_message_quoting_a_line_breaking_character_is_one_line(breaker: str) -> None:
    # the fuzzer's pipeline text '\x01\x0babsorb-high-bias' came back as two lines
    message = str(PipelineError(f"unknown pass '{breaker}dce'"))
    assert len(message.splitlines()) == 1
    assert message.endswith("dce'")


def test_exit_code_of_a_user_error_is_2() -> None:
    assert QccError("x").exit_code == 2
