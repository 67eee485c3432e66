"""Thin edges: Flask blueprints that translate HTTP to application calls."""
