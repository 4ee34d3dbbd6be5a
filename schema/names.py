"""strawberry's name converter with each Python name's GraphQL name kept once made.

strawberry converts input arguments on every request and asks the converter for the
GraphQL name of every field of an input type each time (`createPost`'s input: five
camel-casings per request, 1.5% of the API process's samples under createPost load).
A name's conversion depends on the name and on `auto_camel_case` alone (strawberry's
config sets that flag after making the converter), so it is made once per pair."""

from __future__ import annotations

from strawberry.schema.name_converter import NameConverter


class MemoizedNameConverter(NameConverter):
    def __init__(self, auto_camel_case: bool = True) -> None:
        super().__init__(auto_camel_case)
        self._converted: dict[tuple[bool, str], str] = {}

    def apply_naming_config(self, name: str) -> str:
        key = (self.auto_camel_case, name)
        try:
            return self._converted[key]
        except KeyError:
            converted = self._converted[key] = super().apply_naming_config(name)
            return converted
