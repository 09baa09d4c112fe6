"""A transparency log for events: RFC 6962 Merkle tree, C2SP signed notes, checkpoints and tiles,
and a hash-chained event store. It knows nothing of carbon."""
