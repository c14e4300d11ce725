"""Revision scripts of glancedb's migrations, oldest first."""
