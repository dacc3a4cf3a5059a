"""Reports: what a report shows (content), the signed URLs that show it, and snapshots
rendered in headless Chromium."""
