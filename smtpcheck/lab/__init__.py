"""The built-in lab: real servers on loopback for the demo and the test suite (SPEC §6)."""
