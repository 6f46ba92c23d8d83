"""Thin web layer: blueprints that turn requests into calls to geo/ and cached responses."""
