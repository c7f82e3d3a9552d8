"""The engine: data, models, training, snapshots, explanations, checkpoints. No Qt here."""
