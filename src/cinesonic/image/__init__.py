"""Images: a content-addressed store under the data directory, validated by content, served
with HTTP validators and cached thumbnails; users' avatars."""
