"""Types of the native scan (native/src/lib.rs), built from Rust at install when cargo is there."""

Located = tuple[int, int, int]  # pattern id, start token, end token (exclusive)

class Scanner:
    def __init__(self, table: bytes, words: list[tuple[str, int]],
                 phrases: list[tuple[list[str], bool, int]]) -> None: ...
    def scan(self, text: str) -> tuple[list[int], list[Located], int]: ...
