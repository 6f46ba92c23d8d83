"""The error every query parameter parser raises: the web layer answers 400 naming it."""
from __future__ import annotations


class FilterError(ValueError):
    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")
