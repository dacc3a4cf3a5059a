"""Domain operations; each takes a keyword-only session and the actor, and checks permissions."""
