"""What model calls cost, in EUR, from their token usage and a per-model price table
(MODEL_PRICES_EUR: EUR per million input and output tokens, matched by the longest
model-name prefix). The offline model costs nothing."""

from flask import current_app


def price_of(model: str | None) -> tuple[float, float]:
    prices = current_app.config["MODEL_PRICES_EUR"]
    matching = [prefix for prefix in prices if model and model.startswith(prefix)]
    return prices[max(matching, key=len)] if matching else (0.0, 0.0)


def cost_eur(usage) -> float:
    """The cost of (model, input_tokens, output_tokens) rows, rounded to the cent's
    hundredth."""
    total = 0.0
    for model, input_tokens, output_tokens in usage:
        input_price, output_price = price_of(model)
        total += ((input_tokens or 0) * input_price + (output_tokens or 0) * output_price) / 1e6
    return round(total, 4)
