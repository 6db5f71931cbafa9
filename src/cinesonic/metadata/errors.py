"""The metadata domain's errors: what a provider look-up or a provider image can end in."""

from __future__ import annotations

from cinesonic.errors import AppError, NotFound, ServiceUnavailable


class MetadataNotFound(NotFound):
    code, message = "not_found", "The metadata provider has no such title."


class ProviderUnavailable(ServiceUnavailable):
    """No API key, the key refused, or the provider unreachable or failing after retries."""

    code, message = "provider_unavailable", "The metadata provider is unavailable."


class ProviderError(AppError):
    """The provider answered something we cannot read (not JSON, or not the documented shape)."""

    status_code, code = 502, "provider_error"
    message = "The metadata provider answered something unreadable."


class ArtworkNotFound(NotFound):
    code, message = "not_found", "The metadata provider has no such image."
