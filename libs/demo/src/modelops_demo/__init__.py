"""The closed-loop demo of modelops (the README's first command runs it)."""
