"""Images and their children: properties, locations, members, tags, listing (SPEC 1-7)."""
