"""A named index on disk: opened, built, changed, checked; its manifest, folders and generations."""
