"""Reports of what a run did: the end-of-run summary (and, later, `curate inspect`)."""
