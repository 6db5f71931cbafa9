"""Import pipeline: inbound → staging → library, quarantine and capacity control.

The model (decided):
- Three server-wide folders, settings of `cinesonic.config.Settings`: `import_inbound_dir`
  (where rippers, Picard, beets or downloads put new music), `import_staging_dir` (processed
  albums waiting for review) and `import_quarantine_dir` (files that failed, under
  `<reason>/<date>/`); by default `<data_dir>/inbound`, `staging`, `quarantine`, created on
  first use.
- Production libraries are the existing `music` libraries. Which one an album goes to is decided
  by per-library import rules (`library_import_rule`: an album-artist initial range such as
  `A-M`, `N-Z`, `#`, or any artist; a priority; enabled or not), set with
  `PUT /libraries/{id}/import-rule`. Among matching enabled rules the highest priority wins,
  then the library whose roots have the most free space; a library without a rule takes no
  imports; an album no rule matches stays in staging with `no_target_library` failed.
- A file is recorded in exactly one row at a time — a staged `import_item` (which stays, as
  `promoted` or `rejected`, once the file has left) or a `quarantine_item` — and every move is
  preceded by a committed `file_move` intent (`moves`), so a crash never loses or duplicates a
  file and the database always agrees with the disk after recovery.
- Nothing here deletes a media file, except `resolve` with `delete` on a quarantined file, by an
  administrator, audited. Paths from requests and tags never leave their roots (`kit.paths`).

Rooms: `checks` (one file's checks, organised paths, rule matching; pure), `moves` (intents and
recovery), `pipeline` (the process and promote stages), `service` (request rules), `tasks`
(jobs `import.process` and `import.promote`), `endpoints`; `capacity*` (disk capacity of the
library roots, which promotion asks before moving anything).
"""
