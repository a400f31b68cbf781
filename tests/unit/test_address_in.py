"""A form's or the API's local part, made an address of the domain: the part before the @
only, refused naming local_part otherwise."""

from __future__ import annotations

import pytest

from mailgothai.core.addresses import address_in
from mailgothai.errors import InvalidInput


def test_a_local_part_becomes_an_address_of_the_domain() -> None:
    assert address_in("  saraban ", "moph.go.th") == "saraban@moph.go.th"


@pytest.mark.parametrize("local", ["", "   ", "somchai@moph.go.th", "@"])
def test_anything_but_a_local_part_is_refused_naming_the_field(local: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        address_in(local, "moph.go.th")
    assert refused.value.field == "local_part" and refused.value.code == "local_part_only"
