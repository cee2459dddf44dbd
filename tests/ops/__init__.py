"""Operations tests: health and readiness, faults (database down, workers killed), drain, several instances,
with real PostgreSQL clusters and real `idgw serve` processes."""
