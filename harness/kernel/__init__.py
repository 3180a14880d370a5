"""Kernels: Debian's prebuilt one, a user's file, or one built from source."""
