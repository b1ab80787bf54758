"""Multi-stage approval, order fulfilment on payment/shipping/delivery signals, a webhook stream processor."""
