"""What model calls cost, in EUR, from their token usage and a per-model price table
(MODEL_PRICES_EUR: EUR per million input and output tokens, matched by the longest
model-name prefix). The offline model costs nothing."""

from flask import current_app


def price_of(model: str | None) -> tuple[float, float]:
    prices = current_app.config["MODEL_PRICES_EUR"]
    matching = [prefix for prefix in prices if model and model.startswith(prefix)]
    return prices[max(matching, key=len)] if matching else (0.0, 0.0)


def cost_of(model: str | None, input_tokens: int | None, output_tokens: int | None) -> float:
    """One call's cost, unrounded (metrics add up many)."""
    input_price, output_price = price_of(model)
    return ((input_tokens or 0) * input_price + (output_tokens or 0) * output_price) / 1e6


def cost_eur(usage) -> float:
    """The cost of (model, input_tokens, output_tokens) rows, rounded to the cent's
    hundredth."""
    return round(sum(cost_of(*row) for row in usage), 4)
