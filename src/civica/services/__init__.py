"""Domain operations. Each takes a keyword-only session and the acting user, and checks permissions."""
