"""Source systems: policy stores and (later) HR systems. Each yields typed :class:`SourceDocument`s."""
