"""The core: plain values in, typed results out. Imports no I/O library."""
