"""Roles and permissions: the catalogue, built-in and custom roles, assignment."""
