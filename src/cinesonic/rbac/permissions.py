"""The permission catalogue. Endpoints check these names, never role names.

A new permission is added here and granted to the built-in roles by a migration.
"""

from __future__ import annotations

CATALOGUE: dict[str, str] = {
    "library.read": "See libraries they have been given access to.",
    "library.manage": "Create, change, scan and delete libraries; grant access to them.",
    "music.read": "Browse artists, albums, songs and genres.",
    "music.stream": "Stream songs.",
    "music.download": "Download original song files.",
    "music.write": "Propose changes to music metadata (moderated).",
    "video.read": "Browse movies, TV shows and people.",
    "video.stream": "Stream video files.",
    "video.write": "Change movie and TV metadata.",
    "metadata.read": "Look up titles at metadata providers.",
    "playlists.create": "Create and edit their own playlists.",
    "shares.create": "Share songs, albums and playlists by link.",
    "shares.manage": "Manage everyone's shares.",
    "lyrics.write": "Propose lyrics, translations, annotations and glossary entries.",
    "reports.create": "Report content to moderators.",
    "moderation.review": "Review moderation requests and reports.",
    "requests.create": "Request movies and shows.",
    "requests.manage": "Approve, deny and delete anyone's media requests.",
    "downloads.create": "Start URL and YouTube downloads of their own.",
    "downloads.manage": "Manage everyone's downloads and torrents.",
    "encodings.manage": "Start and cancel encode jobs.",
    "files.manage": "Use the file manager on the data directory.",
    "nodes.manage": "Register and manage federated nodes.",
    "integrations.manage": "Configure Plex, Overseerr, Radarr, Sonarr and other services.",
    "users.read": "See every account's full profile.",
    "users.manage": "Create, change, suspend and delete accounts.",
    "rbac.manage": "Create roles, change their permissions and assign them.",
    "apikeys.manage": "See and revoke anyone's API keys.",
    "activity.read": "Read the audit log.",
    "settings.manage": "Change server settings.",
    "jobs.manage": "See, requeue and purge every background job.",
}

ADMIN_ROLE = "admin"
DEFAULT_ROLE = "user"
