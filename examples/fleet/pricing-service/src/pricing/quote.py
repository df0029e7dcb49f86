"""The pricing rule: list price, volume discount, currency rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

LIST_PRICES = {"sku-1": Decimal("19.99"), "sku-2": Decimal("4.50")}


def quote(sku: str, quantity: int) -> dict[str, str | int]:
    """The price of `quantity` items of `sku`: 10% off from ten items on."""
    if sku not in LIST_PRICES:
        raise ValueError(f"unknown sku {sku!r}")
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    total = LIST_PRICES[sku] * quantity
    if quantity >= 10:
        total *= Decimal("0.9")
    return {"sku": sku, "quantity": quantity, "total": str(total.quantize(Decimal("0.01"), ROUND_HALF_EVEN))}
