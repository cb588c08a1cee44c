"""modelops-contracts: everything that crosses a process boundary (events, HTTP bodies)."""
