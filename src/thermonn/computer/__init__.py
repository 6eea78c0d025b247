"""The thermodynamic computer experiment: data, teacher, trainers, evaluation and energetics."""
