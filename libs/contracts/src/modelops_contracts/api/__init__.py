"""HTTP bodies that clients and other services send to (and read from) the services."""
