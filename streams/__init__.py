"""Stream processing: the Faust worker and its stages (normalise, dedupe into stories, tag,
match), replay, the embedded services and the operator's web views."""
