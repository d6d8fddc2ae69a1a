"""Events: independent write-ups of one real-world happening, grouped above stories."""
