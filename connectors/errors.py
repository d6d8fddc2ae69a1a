"""Errors raised by the connectors package; each says whether retrying can help."""


class ConnectorError(Exception):
    """Base class for connector errors."""

    retryable: bool = False


class FeedFileError(ConnectorError):
    """A feeds file (YAML or OPML) is missing or malformed."""


class FetchError(ConnectorError):
    """Fetching a feed failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class BlockedAddressError(FetchError):
    """The feed's host resolves to an address wirewatch refuses to contact (SSRF guard)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
