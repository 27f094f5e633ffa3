"""Where sellers' files land: local and S3 listing, tick planning, quarantine, feed fetch."""
