"""Talking to a booted guest over SSH."""
