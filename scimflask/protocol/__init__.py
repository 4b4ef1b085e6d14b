"""HTTP-independent protocol pieces: PATCH, projection, paging, ETags, media types, auth."""
