//! Layer application: tar streams (plain, gzip, zstd) unpacked into overlay-ready directories.
