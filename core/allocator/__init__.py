"""Dispatch allocator: plain typed data in, plain typed data out (see `solve`)."""
