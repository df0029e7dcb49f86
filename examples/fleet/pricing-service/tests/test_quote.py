import pytest
from pricing.quote import quote


def test_ten_items_or_more_get_ten_percent_off() -> None:
    assert quote("sku-1", 10) == {"sku": "sku-1", "quantity": 10, "total": "179.91"}
    assert quote("sku-2", 2) == {"sku": "sku-2", "quantity": 2, "total": "9.00"}


def test_an_unknown_sku_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sku 'sku-9'"):
        quote("sku-9", 1)
