"""Collect, process and report on data, passing context along, with retries."""
