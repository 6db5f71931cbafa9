"""Which settings may change at runtime, and the rule each value must meet.

Server settings ARE fields of `cinesonic.config.Settings`: this registry only says which fields
an administrator may change while the server runs, in which group, whether the value is secret
and whether it needs a restart. Type, description and validation come from the field itself
(its annotation and constraints, through a pydantic `TypeAdapter`), so a rule is declared once
and holds for environment variables and runtime changes alike. Fields left out — paths, the
database and Redis URLs, the secret key, per-process worker switches, password hashing cost —
are deployment configuration: environment or config file only.

Per-user settings are the fields of the user domain's `Preferences`, under the same rules.

Values arrive as JSON and are checked strictly: `true`, not `"true"`; `5`, not `"5"`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import JsonValue, TypeAdapter
from pydantic.fields import FieldInfo

from cinesonic.config import Settings
from cinesonic.user.schemas import Preferences


class SettingGroup(enum.StrEnum):
    features = "features"
    limits = "limits"
    security = "security"
    mail = "mail"
    jobs = "jobs"
    server = "server"
    metadata = "metadata"
    imports = "imports"


@dataclass(frozen=True)
class ValueRule:
    """How one setting's values are checked, described and turned back into JSON."""

    adapter: TypeAdapter[Any]
    schema: dict[str, Any]
    type: str
    text: str
    is_nullable: bool

    def check(self, value: JsonValue) -> Any:
        """The value as the setting holds it; `pydantic.ValidationError` when it breaks the rule."""
        return self.adapter.validate_json(json.dumps(value), strict=True)

    def dump(self, value: Any) -> JsonValue:
        dumped: JsonValue = self.adapter.dump_python(value, mode="json")
        return dumped


def _bounds(schema: Mapping[str, Any]) -> str:
    parts = []
    if "minimum" in schema:
        parts.append(f"≥ {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        parts.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        parts.append(f"≤ {schema['maximum']}")
    if "exclusiveMaximum" in schema:
        parts.append(f"< {schema['exclusiveMaximum']}")
    return " and ".join(parts)


def _describe(schema: Mapping[str, Any]) -> tuple[str, str]:
    """(type, rule in words) of a non-null JSON schema."""
    if "enum" in schema:
        choices = ", ".join(json.dumps(choice) for choice in schema["enum"])
        return "enum", f"one of {choices}"
    kind = str(schema.get("type", "any"))
    if kind == "boolean":
        return kind, "true or false"
    if kind in ("integer", "number"):
        bounds = _bounds(schema)
        noun = "an integer" if kind == "integer" else "a number"
        return kind, f"{noun} {bounds}" if bounds else noun
    if kind == "string":
        text = "a string"
        if "maxLength" in schema:
            text += f" of at most {schema['maxLength']} characters"
        if "pattern" in schema:
            text += f" matching {schema['pattern']}"
        return kind, text
    return kind, f"a JSON {kind}"


def value_rule(field: FieldInfo, hint: str | None = None) -> ValueRule:
    """The rule of a model field: its annotation with its constraints and validators."""
    annotation = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    schema = adapter.json_schema()
    variants = schema.get("anyOf", [schema])
    concrete = [v for v in variants if v.get("type") != "null"]
    is_nullable = len(concrete) < len(variants)
    described = concrete[0] if len(concrete) == 1 else schema
    if "$ref" in described:  # an enum or model, defined once under `$defs`
        described = schema["$defs"][described["$ref"].rsplit("/", 1)[-1]]
    kind, text = _describe(described)
    text = hint or text
    if is_nullable:
        text += ", or null"
    return ValueRule(adapter=adapter, schema=schema, type=kind, text=text, is_nullable=is_nullable)


@dataclass(frozen=True)
class ServerSettingDefinition:
    key: str
    group: SettingGroup
    description: str
    rule: ValueRule
    is_secret: bool
    restart_required: bool

    @property
    def environment_variable(self) -> str:
        prefix = str(Settings.model_config.get("env_prefix") or "")
        return f"{prefix}{self.key}".upper()


def _server(
    key: str,
    group: SettingGroup,
    *,
    secret: bool = False,
    restart: bool = False,
    hint: str | None = None,
) -> ServerSettingDefinition:
    field = Settings.model_fields[key]
    return ServerSettingDefinition(
        key=key,
        group=group,
        description=field.description or "",
        rule=value_rule(field, hint),
        is_secret=secret,
        restart_required=restart,
    )


_RATE = "a rate limit such as '20/minute', '5/15minutes' or '100 per hour'"
_F, _L, _S = SettingGroup.features, SettingGroup.limits, SettingGroup.security
_M, _J, _SV = SettingGroup.mail, SettingGroup.jobs, SettingGroup.server
_MD = SettingGroup.metadata
_IM = SettingGroup.imports

# In the order the settings are listed.
SERVER_SETTINGS: dict[str, ServerSettingDefinition] = {
    definition.key: definition
    for definition in (
        _server("open_registration", _F),
        _server("require_email_verification", _F),
        _server("rate_limit_enabled", _L),
        _server("rate_limit_global", _L, hint=_RATE),
        _server("rate_limit_login", _L, hint=_RATE),
        _server("rate_limit_auth_sensitive", _L, hint=_RATE),
        _server("rate_limit_csrf", _L, hint=_RATE),
        _server("rate_limit_admin", _L, hint=_RATE),
        _server("max_json_body_bytes", _L),
        _server("access_token_ttl_seconds", _S),
        _server("refresh_token_ttl_days", _S),
        _server("email_verification_ttl_hours", _S),
        _server("password_reset_ttl_minutes", _S),
        _server("login_lockout_threshold", _S),
        _server("login_lockout_minutes", _S),
        _server("cookie_secure", _S),
        _server("cookie_samesite", _S),
        # The mailer is reconfigured in place when these change.
        _server("smtp_host", _M),
        _server("smtp_port", _M),
        _server("smtp_tls", _M),
        _server("smtp_user", _M),
        _server("smtp_password", _M, secret=True),
        _server("mail_from", _M),
        # Read by every progress report, so a change applies to the next one.
        _server("watched_threshold_percent", _F),
        _server("job_retention_days", _J),
        # The worker is built with these when the server starts.
        _server("worker_concurrency", _J, restart=True),
        _server("job_lease_seconds", _J, restart=True),
        _server("public_url", _SV, hint="an http:// or https:// URL"),
        _server(
            "log_level",
            _SV,
            restart=True,
            hint="one of debug, info, warning, error, critical (any case)",
        ),
        # Read by every metadata look-up, so a change applies to the next one.
        _server("tmdb_api_key", _MD, secret=True),
        _server("tmdb_language", _MD, hint="a language such as 'en' or 'pt-BR'"),
        _server("tmdb_base_url", _MD, hint="an http:// or https:// URL"),
        _server("tmdb_image_base_url", _MD, hint="an http:// or https:// URL"),
        _server("tmdb_timeout_seconds", _MD),
        _server("tmdb_retries", _MD),
        _server("tmdb_retry_backoff_seconds", _MD),
        _server("tmdb_retry_after_max_seconds", _MD),
        _server("metadata_cache_ttl_hours", _MD),
        _server("metadata_search_cache_ttl_hours", _MD),
        _server("metadata_match_threshold", _MD),
        # Read by each import job and each probe run, so a change applies to the next one.
        # The path template and the capacity thresholds (checked against each other) are
        # deployment configuration.
        _server("import_duplicate_policy", _IM),
        _server("capacity_probe_interval_minutes", _IM),
    )
}

MAIL_KEYS = frozenset(
    {"smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password", "mail_from"}
)


@dataclass(frozen=True)
class UserSettingDefinition:
    key: str
    description: str
    rule: ValueRule
    default: JsonValue


_USER_HINTS = {
    "language": "a BCP 47 language tag such as 'en' or 'pt-BR'",
    "subtitle_language": "a BCP 47 language tag such as 'en' or 'pt-BR'",
    "time_zone": "an IANA time zone such as 'Europe/Paris'",
}


def _user_settings() -> dict[str, UserSettingDefinition]:
    defaults = Preferences().model_dump(mode="json")
    return {
        key: UserSettingDefinition(
            key=key,
            description=field.description or rule.schema.get("description", ""),
            rule=rule,
            default=defaults[key],
        )
        for key, field in Preferences.model_fields.items()
        for rule in [value_rule(field, _USER_HINTS.get(key))]
    }


USER_SETTINGS = _user_settings()
